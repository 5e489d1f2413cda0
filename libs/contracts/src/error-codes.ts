/** Every error code a Tally service may answer with, and the HTTP status it travels with. */
export const ErrorStatus = {
  INVALID_REQUEST: 400,
  INVALID_API_KEY: 401,
  API_KEY_REVOKED: 401,
  MISSING_CREDENTIALS: 401,
  INSUFFICIENT_SANDBOX_HOURS: 402,
  INSUFFICIENT_AGENT_CREDITS: 402,
  ACTION_NOT_ALLOWED_FOR_API_KEY: 403,
  ROLE_FORBIDDEN: 403,
  PLAN_TIER_TOO_LOW: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  CONCURRENT_SANDBOX_LIMIT: 429,
  DEPENDENCY_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ErrorStatus;

/** The one error body of every endpoint of every service (DESIGN §3). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  requestId: string;
  field?: string;
}

/** A domain failure that knows its code; the HTTP layer maps it to status and body. */
export class TallyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { field?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'TallyError';
  }

  get status(): number {
    return ErrorStatus[this.code];
  }
}
