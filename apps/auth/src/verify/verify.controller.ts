import { Body, Controller, Headers, HttpCode, Inject, Ip, Post, UseGuards } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { DEADLINE_HEADER, deadlineFrom, IDEMPOTENCY_KEY_HEADER, isAction, TallyError } from '@tally/contracts';
import { DECISION_ALLOWED, decisionCounter, HotRoutes, METRICS_REGISTRY, ServiceAuthGuard } from '@tally/platform';
import type { IncomingHttpHeaders } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { ApiErrors, BODY_ERRORS } from '../http/api-errors.decorator';
import { parseVerifyRequest } from './dto/parse-verify-request';
import { VerifyAllowedDto, VerifyRequestDto } from './dto/verify-request.dto';
import { VerifyService } from './verify.service';

@ApiTags('verify')
@ApiSecurity('service')
@Controller('v1/verify')
@UseGuards(ServiceAuthGuard)
export class VerifyController {
  /** tally_decisions_total: every answer of this route by action and code (ALLOWED or the error code). */
  private readonly decisions: Counter<'action' | 'code'>;

  constructor(
    private readonly verifier: VerifyService,
    hotRoutes: HotRoutes,
    guard: ServiceAuthGuard,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.decisions = decisionCounter(registry);
    // A hot route (libs/platform/src/http/hot-routes.ts): Node's HTTP server calls `verify` below.
    hotRoutes.registerGuarded('POST', '/v1/verify', guard, (request) =>
      this.verify(request.body, request.ip, request.headers),
    );
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'May this API key perform this action in this organization?',
    description:
      'For upstream services, with their service credential (x-service-token). Metered actions ' +
      '(sandbox.create, sandbox.extend, agent.run) are allowed only once Kafka acknowledged the verified event.',
  })
  @ApiBody({ type: VerifyRequestDto })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Same as the body field idempotencyKey: a retry with the same key replays the first decision',
  })
  @ApiHeader({
    name: DEADLINE_HEADER,
    required: false,
    description:
      'Milliseconds the caller still waits (the guard sends it): past them auth holds and publishes nothing and answers 503',
  })
  @ApiResponse({ status: 200, type: VerifyAllowedDto, description: 'Allowed; the verified event is published.' })
  @ApiErrors({
    ...BODY_ERRORS,
    400: 'INVALID_REQUEST: unknown action, wrong types, not JSON (the body names the field)',
    401: 'INVALID_API_KEY (malformed, wrong checksum, unknown), API_KEY_REVOKED, MISSING_CREDENTIALS (service credential)',
    402: 'INSUFFICIENT_SANDBOX_HOURS, INSUFFICIENT_AGENT_CREDITS (from quota admission, metered actions)',
    403: 'ACTION_NOT_ALLOWED_FOR_API_KEY: an administrative action; PLAN_TIER_TOO_LOW (quota admission); ORG_SUSPENDED: the organization is suspended (every action, until resumed; docs/ORGANIZATIONS.md)',
    404: 'NOT_FOUND: the key belongs to another organization (no existence leak)',
    429: 'RATE_LIMITED: too many failed verifications from this address or for this key id (Retry-After); CONCURRENT_SANDBOX_LIMIT',
    409: 'CONFLICT: the Idempotency-Key was used for another request, or its action was voided',
    503: "DEPENDENCY_UNAVAILABLE: Kafka did not acknowledge a metered action (failed closed; voided), or the caller's deadline passed",
  })
  // `unknown`: the global ValidationPipe skips it; parseVerifyRequest applies the DTO's rules faster.
  async verify(
    @Body() body: unknown,
    @Ip() ip: string,
    @Headers() headers: IncomingHttpHeaders,
  ): Promise<VerifyAllowedDto> {
    const requested = (body as { action?: unknown } | null)?.action;
    const action = isAction(requested) ? requested : 'unknown';
    try {
      const allowed = await this.verifier.verify(parseVerifyRequest(body, headers[IDEMPOTENCY_KEY_HEADER]), ip, {
        deadline: deadlineFrom(headers[DEADLINE_HEADER]),
      });
      this.decisions.inc({ action, code: DECISION_ALLOWED });
      return allowed;
    } catch (error) {
      this.decisions.inc({ action, code: error instanceof TallyError ? error.code : 'INTERNAL_ERROR' });
      throw error;
    }
  }
}
