import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { sendError, ServiceAuthGuard } from '@tally/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseVerifyRequest } from './dto/parse-verify-request';
import { VerifyService } from './verify.service';

/**
 * The hottest route without Nest's per-request machinery. VerifyController declares and
 * documents POST /v1/verify (OpenAPI, statuses); when Fastify registers that route, this swaps in
 * a handler doing the same three steps (service credential, body check, verify) and answering
 * through the same error body, minus Nest's router, guard, pipe and interceptor layers, which
 * cost more CPU than the verification itself (docs/BENCHMARKS.md).
 */
@Injectable()
export class VerifyFastRoute {
  private readonly logger = new Logger('VerifyFastRoute');

  constructor(adapterHost: HttpAdapterHost, guard: ServiceAuthGuard, verifier: VerifyService) {
    const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        guard.canActivate({ switchToHttp: () => ({ getRequest: () => request }) } as ExecutionContext);
        const allowed = await verifier.verify(parseVerifyRequest(request.body), request.ip);
        return reply.code(200).send(allowed);
      } catch (error) {
        sendError(reply, request, error, this.logger);
        return reply;
      }
    };
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (route.url === '/v1/verify' && methods.includes('POST')) route.handler = handler;
    });
  }
}
