import { Action, DEADLINE_HEADER, deadlineHeader, ErrorCode, Errors, ErrorStatus, TallyError } from '@tally/contracts';
import { ulid } from 'ulid';

export interface AdmissionClientOptions {
  /** Quota's base URL, e.g. http://127.0.0.1:3003 */
  baseUrl: string;
  /** A credential quota accepts in x-service-token. */
  serviceToken: string;
  /**
   * Longest wait for quota's answer. Quota bounds its own decision (50 ms by default); this
   * covers the network and a quota that is down or overloaded.
   */
  timeoutMs?: number;
}

export interface AdmissionRequest {
  orgId: string;
  keyId: string;
  action: Action;
  /** The resource the action addresses: sandbox.extend must name its sandbox (priced at the sandbox's shape). */
  resource?: { type: string; id: string } | null;
  params?: Record<string, unknown>;
  /** Idempotency key and hold id; generated when absent. Retrying with the same id is safe. */
  admissionId?: string;
  /** When the caller gives up (ms since epoch): quota is told, and nothing is waited for past it. */
  deadline?: number;
}

/** Quota's 200 answer (POST /v1/admissions). */
export interface AdmissionGranted {
  admitted: true;
  admissionId: string;
  orgId: string;
  action: string;
  reservedMs: string;
  reservedHours: string;
  /** Milli-credits held for agent.run (its fixed cost). */
  reservedAgentMc?: string;
  holdExpiresAt: string | null;
  replay: boolean;
  degraded?: string;
}

/** The same decision as a value (for callers that pass denials through rather than throw). */
export type AdmissionDecision =
  | { admitted: true; admissionId: string; granted: AdmissionGranted }
  | { admitted: false; code: ErrorCode; message: string; retryAfterSeconds?: number };

/** Quota did not answer in time: it may still decide (and hold) after this caller stopped waiting. */
class QuotaTimedOut extends TallyError {
  constructor(waitMs: number) {
    super('DEPENDENCY_UNAVAILABLE', `quota did not answer within ${waitMs} ms; the action failed closed.`, {
      retryAfterSeconds: 1,
    });
  }
}

const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.prototype.hasOwnProperty.call(ErrorStatus, value);

/**
 * HTTP client of quota's admission API, for auth's verify (and anything else that must ask
 * before a metered action). Quota's error body becomes a TallyError with the same code, message
 * and Retry-After, so a caller passes the decision through unchanged. Quota unreachable or slower
 * than the timeout is DEPENDENCY_UNAVAILABLE: the caller fails closed unless it decides otherwise.
 */
export class AdmissionClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: AdmissionClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 150;
  }

  /** Admits, or throws the denial as a TallyError. */
  async admit(request: AdmissionRequest): Promise<AdmissionGranted> {
    const admissionId = request.admissionId ?? ulid();
    const body = {
      orgId: request.orgId,
      keyId: request.keyId,
      action: request.action,
      ...(request.resource ? { resource: request.resource } : {}),
      params: request.params ?? {},
      admissionId,
    };
    try {
      return (await this.parse(await this.call('POST', '/v1/admissions', body, request.deadline))) as AdmissionGranted;
    } catch (error) {
      if (error instanceof QuotaTimedOut) this.releaseAbandoned(request.orgId, admissionId);
      throw error;
    }
  }

  /** Quota may have taken the hold just as this caller stopped waiting: nobody will use it. */
  private releaseAbandoned(orgId: string, admissionId: string): void {
    this.release(orgId, admissionId).catch(() => undefined);
  }

  /** Admits or denies, as a value; dependency failures are denials with DEPENDENCY_UNAVAILABLE. */
  async decide(request: AdmissionRequest): Promise<AdmissionDecision> {
    try {
      const granted = await this.admit(request);
      return { admitted: true, admissionId: granted.admissionId, granted };
    } catch (error) {
      if (!(error instanceof TallyError)) throw error;
      return {
        admitted: false,
        code: error.code,
        message: error.message,
        ...(error.details.retryAfterSeconds !== undefined
          ? { retryAfterSeconds: error.details.retryAfterSeconds }
          : {}),
      };
    }
  }

  /** Releases the provisional hold of an admission whose action could not be carried out. */
  async release(orgId: string, admissionId: string): Promise<{ releasedMs: string }> {
    const path = `/v1/admissions/${encodeURIComponent(admissionId)}?orgId=${encodeURIComponent(orgId)}`;
    return (await this.parse(await this.call('DELETE', path))) as { releasedMs: string };
  }

  private async call(method: 'POST' | 'DELETE', path: string, body?: unknown, deadline?: number): Promise<Response> {
    const waitMs = deadline === undefined ? this.timeoutMs : Math.min(this.timeoutMs, deadline - Date.now());
    if (waitMs <= 0) {
      throw Errors.dependencyUnavailable("The caller's deadline passed before quota was asked; refused.", 1);
    }
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          'x-service-token': this.options.serviceToken,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(deadline === undefined ? {} : { [DEADLINE_HEADER]: deadlineHeader(deadline) }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(waitMs),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new QuotaTimedOut(waitMs);
      throw Errors.dependencyUnavailable(
        `quota is unreachable (${(error as Error).message}); the action failed closed.`,
        1,
      );
    }
  }

  private async parse(response: Response): Promise<unknown> {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (response.ok) return body;
    const error = (body ?? {}) as { code?: unknown; message?: unknown; field?: unknown };
    const retryAfter = Number(response.headers.get('retry-after'));
    const details = {
      ...(typeof error.field === 'string' ? { field: error.field } : {}),
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    };
    // Quota's own failures and a refused service credential are not the end user's to see.
    if (response.status === 401 || (response.status >= 500 && error.code !== 'DEPENDENCY_UNAVAILABLE')) {
      return Promise.reject(
        Errors.dependencyUnavailable(
          `quota answered ${response.status} ${String(error.code ?? '')}: ${String(error.message ?? 'no decision')}; failed closed.`,
          1,
        ),
      );
    }
    if (isErrorCode(error.code)) {
      return Promise.reject(Errors.decided(error.code, String(error.message ?? error.code), details));
    }
    // Not quota's error body (a proxy, a crash): the decision could not be made.
    return Promise.reject(
      Errors.dependencyUnavailable(`quota answered ${response.status} without a decision; failed closed.`, 1),
    );
  }
}

/**
 * The shape auth's verify expects of its admission seam (`admit` answering a decision, never
 * throwing a denial): `bootstrapAuth(config, { admissionClient: admissionDecider(client) })`.
 */
export const admissionDecider = (client: AdmissionClient) => ({
  admit: (request: AdmissionRequest): Promise<AdmissionDecision> =>
    client.decide({
      orgId: request.orgId,
      keyId: request.keyId,
      action: request.action,
      resource: request.resource,
      params: request.params,
      admissionId: request.admissionId,
      deadline: request.deadline,
    }),
  release: (orgId: string, admissionId: string): Promise<unknown> => client.release(orgId, admissionId),
});
