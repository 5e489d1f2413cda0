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
  ORG_SUSPENDED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  CONCURRENT_SANDBOX_LIMIT: 429,
  DEPENDENCY_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ErrorStatus;

/** What each code says when its caller has nothing more precise to say. */
export const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  INVALID_REQUEST: 'The request is not valid.',
  INVALID_API_KEY: 'The API key is not valid.',
  API_KEY_REVOKED: 'The API key has been revoked.',
  MISSING_CREDENTIALS: 'A credential is required.',
  INSUFFICIENT_SANDBOX_HOURS: 'The organization has not enough sandbox hours left.',
  INSUFFICIENT_AGENT_CREDITS: 'The organization has not enough agent credits left.',
  ACTION_NOT_ALLOWED_FOR_API_KEY: 'API keys may not perform this action.',
  ROLE_FORBIDDEN: 'The role does not allow this action.',
  PLAN_TIER_TOO_LOW: "The organization's plan does not include this.",
  ORG_SUSPENDED: 'The organization is suspended; nothing may be done in it until it is resumed.',
  NOT_FOUND: 'Not found.',
  CONFLICT: 'The request conflicts with the current state.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  RATE_LIMITED: 'Too many requests.',
  CONCURRENT_SANDBOX_LIMIT: 'Too many sandboxes are running.',
  DEPENDENCY_UNAVAILABLE: 'A dependency is unavailable.',
  INTERNAL_ERROR: 'An unexpected error occurred.',
};

/** The one error body of every endpoint of every service (docs/ARCHITECTURE.md §3). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  requestId: string;
  field?: string;
}

export interface ErrorDetails {
  field?: string;
  retryAfterSeconds?: number;
}

/**
 * A domain failure that knows its code; the HTTP layer maps it to status and body (one mapper:
 * libs/platform's mapError). Build it by name through `Errors` (errors.ts).
 */
export class TallyError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = DEFAULT_MESSAGES[code],
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'TallyError';
  }

  get status(): number {
    return ErrorStatus[this.code];
  }
}
