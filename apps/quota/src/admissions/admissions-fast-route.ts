import { Injectable } from '@nestjs/common';
import { DEADLINE_HEADER, deadlineFrom } from '@tally/contracts';
import { HotRoutes, ServiceAuthGuard } from '@tally/platform';
import { AdmissionsService } from './admissions.service';
import { parseAdmissionRequest } from './dto/admission.dto';

/**
 * POST /v1/admissions on the hot path (HotRoutes: straight from Node's HTTP server, without
 * Fastify's and Nest's per-request layers, which cost more CPU than the decision itself;
 * docs/BENCHMARKS.md). AdmissionsController still declares and documents the route (OpenAPI,
 * statuses); this does the same three steps: service credential (before the body is read), body check, decision.
 */
@Injectable()
export class AdmissionsFastRoute {
  constructor(hotRoutes: HotRoutes, guard: ServiceAuthGuard, admissions: AdmissionsService) {
    hotRoutes.register('POST', '/v1/admissions', {
      authenticate: (headers) => guard.check(headers),
      handle: (request) =>
        admissions.admit(parseAdmissionRequest(request.body), deadlineFrom(request.headers[DEADLINE_HEADER])),
    });
  }
}
