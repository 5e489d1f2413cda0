import { Injectable } from '@nestjs/common';
import { DEADLINE_HEADER, deadlineFrom, IDEMPOTENCY_KEY_HEADER } from '@tally/contracts';
import { HotRoutes, ServiceAuthGuard } from '@tally/platform';
import { parseVerifyRequest } from './dto/parse-verify-request';
import { VerifyService } from './verify.service';

/**
 * POST /v1/verify, the hottest route, on the hot path (HotRoutes: straight from Node's HTTP
 * server, without Fastify's and Nest's per-request layers, which cost more CPU than the
 * verification itself; docs/BENCHMARKS.md). VerifyController still declares and documents the
 * route (OpenAPI, statuses); this does the same three steps: service credential (before the body is read), body check, verify.
 */
@Injectable()
export class VerifyFastRoute {
  constructor(hotRoutes: HotRoutes, guard: ServiceAuthGuard, verifier: VerifyService) {
    hotRoutes.register('POST', '/v1/verify', {
      authenticate: (headers) => guard.check(headers),
      handle: (request) =>
        verifier.verify(parseVerifyRequest(request.body, request.headers[IDEMPOTENCY_KEY_HEADER]), request.ip, {
          deadline: deadlineFrom(request.headers[DEADLINE_HEADER]),
        }),
    });
  }
}
