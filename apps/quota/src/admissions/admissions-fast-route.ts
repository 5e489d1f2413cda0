import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { sendError, ServiceAuthGuard } from '@tally/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdmissionsService } from './admissions.service';
import { parseAdmissionRequest } from './dto/admission.dto';

/**
 * The gateway's hot path without Nest's per-request machinery (the pattern auth uses for
 * /v1/verify). AdmissionsController declares and documents POST /v1/admissions (OpenAPI,
 * statuses); when Fastify registers that route, this swaps in a handler doing the same three
 * steps (service credential, body check, decision) and answering through the same error body,
 * minus Nest's router, guard, pipe and interceptor layers, which cost more CPU than the decision
 * itself (docs/BENCHMARKS.md).
 */
@Injectable()
export class AdmissionsFastRoute {
  private readonly logger = new Logger('AdmissionsFastRoute');

  constructor(adapterHost: HttpAdapterHost, guard: ServiceAuthGuard, admissions: AdmissionsService) {
    const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        guard.canActivate({ switchToHttp: () => ({ getRequest: () => request }) } as ExecutionContext);
        const granted = await admissions.admit(parseAdmissionRequest(request.body));
        return reply.code(200).send(granted);
      } catch (error) {
        sendError(reply, request, error, this.logger);
        return reply;
      }
    };
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (route.url === '/v1/admissions' && methods.includes('POST')) route.handler = handler;
    });
  }
}
