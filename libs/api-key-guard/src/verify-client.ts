import { Logger } from '@nestjs/common';
import {
  Action,
  AuthTimeouts,
  authWorstCaseMs,
  DEADLINE_HEADER,
  deadlineHeader,
  ErrorCode,
  Errors,
  ErrorStatus,
} from '@tally/contracts';

export interface VerifyClientOptions {
  /** Auth's base URL, e.g. http://127.0.0.1:3001 */
  authUrl: string;
  /** This service's credential for auth (x-service-token); never an API key. */
  serviceToken: string;
  /**
   * Longest wait for auth's answer; past it the request fails closed with 503. Default: auth's
   * worst case for a metered action (its Kafka ack timeout + its quota timeout + a margin), from
   * the two below; a shorter value is sent to auth as the deadline, which auth then honours.
   */
  timeoutMs?: number;
  /** Auth's EVENT_ACK_TIMEOUT_MS, when it is not the default. */
  authEventAckTimeoutMs?: number;
  /** Auth's QUOTA_TIMEOUT_MS, when it is not the default. */
  authQuotaTimeoutMs?: number;
}

export interface VerifyInput {
  key: string;
  action: Action;
  orgId: string;
  resource?: { type: string; id: string };
  params?: Record<string, unknown>;
  /** The end user's address, for auth's failed-verification throttling. */
  sourceAddress?: string;
  /** The end user's Idempotency-Key: a retry replays the first decision (one hold, one charge). */
  idempotencyKey?: string;
}

/** Auth's 200 answer. */
export interface VerifiedAction {
  allowed: true;
  orgId: string;
  keyId: string;
  userId: string;
  action: Action;
  eventId: string;
  admissionId: string | null;
  /** The resource the route named in the verify call (set by `ApiKeyGuard`, e.g. the sandbox a create made up). */
  resource?: { type: string; id: string };
}

const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(ErrorStatus, value);

/**
 * Calls auth's POST /v1/verify. A denial comes back as a TallyError with auth's code, message and
 * Retry-After, so the upstream answers exactly what auth decided. Auth unreachable, slow, or
 * refusing this service's own credential is DEPENDENCY_UNAVAILABLE: fail closed.
 */
export class VerifyClient {
  private readonly logger = new Logger(VerifyClient.name);
  private readonly url: string;
  /** How long this client waits for auth (see VerifyClientOptions.timeoutMs). */
  readonly timeoutMs: number;

  constructor(private readonly options: VerifyClientOptions) {
    this.url = `${options.authUrl.replace(/\/+$/, '')}/v1/verify`;
    this.timeoutMs =
      options.timeoutMs ??
      authWorstCaseMs(
        options.authEventAckTimeoutMs ?? AuthTimeouts.eventAckMs,
        options.authQuotaTimeoutMs ?? AuthTimeouts.quotaMs,
      );
  }

  async verify(input: VerifyInput): Promise<VerifiedAction> {
    let response: Response;
    let body: unknown;
    // Auth must be done a margin before this client stops waiting: the answer still has to travel back.
    const deadline = Date.now() + this.timeoutMs - AuthTimeouts.marginMs;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-service-token': this.options.serviceToken,
          [DEADLINE_HEADER]: deadlineHeader(deadline),
        },
        body: JSON.stringify(input),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = await response.json();
    } catch (error) {
      this.logger.error({ err: error }, 'auth did not answer a verify call');
      throw Errors.dependencyUnavailable('The auth service is unavailable; request refused (failed closed).');
    }
    if (response.status === 200) return body as VerifiedAction;
    const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
    if (!isErrorCode(code) || code === 'INTERNAL_ERROR' || code === 'MISSING_CREDENTIALS') {
      // MISSING_CREDENTIALS from verify is about this service's own credential: our fault, not the caller's.
      this.logger.error({ status: response.status, code }, 'auth refused a verify call');
      throw Errors.dependencyUnavailable('The auth service could not decide; request refused (failed closed).');
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    throw Errors.decided(code, typeof message === 'string' ? message : code, {
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    });
  }
}
