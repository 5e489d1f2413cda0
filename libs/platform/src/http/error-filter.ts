import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ErrorBody, ErrorCode, Errors, ErrorStatus, TallyError } from '@tally/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bodyProblems } from './body';
import { dependencyFailure } from './dependency-failure';

const statusToCode: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  401: 'MISSING_CREDENTIALS',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'INVALID_REQUEST',
  429: 'RATE_LIMITED',
  503: 'DEPENDENCY_UNAVAILABLE',
};

interface Mapped {
  status: number;
  body: Omit<ErrorBody, 'requestId'>;
  retryAfterSeconds?: number;
}

/**
 * Maps anything thrown to the one error body of docs/ARCHITECTURE.md §3: a connection failure of
 * PostgreSQL, Redis or Kafka is 503 DEPENDENCY_UNAVAILABLE naming it (dependency-failure.ts);
 * unknown failures are 500 and logged.
 */
export function mapError(error: unknown): Mapped {
  const dependency = error instanceof TallyError ? undefined : dependencyFailure(error);
  if (dependency) error = Errors.dependencyDown(dependency);
  if (error instanceof TallyError) {
    return {
      status: error.status,
      body: {
        code: error.code,
        message: error.message,
        ...(error.details.field ? { field: error.details.field } : {}),
      },
      retryAfterSeconds: error.details.retryAfterSeconds,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = statusToCode[status] ?? (status < 500 ? 'INVALID_REQUEST' : 'INTERNAL_ERROR');
    return { status: ErrorStatus[code] === 500 ? status : ErrorStatus[code], body: { code, message: error.message } };
  }
  // Fastify's own errors (body parsing, size limit, content type) carry a statusCode.
  const fastify = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastify?.statusCode === 'number' && fastify.statusCode < 500) {
    const status = fastify.statusCode === 415 ? 400 : fastify.statusCode;
    const code = statusToCode[status] ?? 'INVALID_REQUEST';
    const message =
      fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? bodyProblems.tooLarge
        : fastify.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
          ? bodyProblems.empty
          : status === 400 && fastify.code !== 'FST_ERR_VALIDATION'
            ? bodyProblems.notJson
            : (fastify.message ?? 'Bad request.');
    return {
      status: ErrorStatus[code] === 400 && status !== 400 ? status : ErrorStatus[code],
      body: { code, message },
    };
  }
  return { status: 500, body: { code: 'INTERNAL_ERROR', message: 'An unexpected error occurred.' } };
}

export function sendError(reply: FastifyReply, request: FastifyRequest, error: unknown, logger?: Logger): void {
  const mapped = mapError(error);
  if (mapped.status >= 500 && mapped.body.code === 'INTERNAL_ERROR') {
    logger?.error({ err: error, requestId: request.id }, 'unhandled error');
  } else if (!(error instanceof TallyError) && mapped.body.code === 'DEPENDENCY_UNAVAILABLE') {
    logger?.warn({ err: error, requestId: request.id, url: request.url }, mapped.body.message);
  }
  if (mapped.retryAfterSeconds !== undefined) reply.header('retry-after', String(mapped.retryAfterSeconds));
  void reply.status(mapped.status).send({ ...mapped.body, requestId: String(request.id) });
}

@Catch()
export class TallyErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendError(http.getResponse<FastifyReply>(), http.getRequest<FastifyRequest>(), exception, this.logger);
  }
}
