import { Action, isAction } from './actions';
import { ErrorCode, ErrorDetails, TallyError } from './error-codes';
import { isOrgId, ORG_ID_RULE } from './org-id';

/** The dependencies a Tally service can lose, as /health/ready names them. */
export type Dependency = 'postgres' | 'redis' | 'kafka';
export const DEPENDENCY_NAMES: Record<Dependency, string> = { postgres: 'PostgreSQL', redis: 'Redis', kafka: 'Kafka' };

const invalidRequest = (field: string | undefined, message: string): TallyError =>
  new TallyError('INVALID_REQUEST', message, field === undefined ? {} : { field });

const notFound = (what: string): TallyError => new TallyError('NOT_FOUND', `No such ${what}.`);

/**
 * Every failure a service answers with, constructed by name: one constructor per capability,
 * the message written here once. Codes and statuses live in error-codes.ts; mapping to HTTP is
 * libs/platform's mapError.
 */
export const Errors = {
  /** A request field is wrong; `field` names it in the error body. */
  invalidRequest,
  /** The request as a whole is wrong (no single field to blame: the body, its content type). */
  invalidBody: (message: string) => invalidRequest(undefined, message),
  invalidOrgId: (field = 'orgId') => invalidRequest(field, `${field} ${ORG_ID_RULE}.`),
  // The caller's bytes are not echoed back (issue 11): the field is named, its value is not.
  unknownAction: () => invalidRequest('action', 'action is not an action of the catalog.'),
  invalidAdmissionId: () => invalidRequest('admissionId', 'admissionId must be 1-128 letters, digits, _ . or -'),

  orgNotFound: () => notFound('organization'),
  apiKeyNotFound: () => notFound('API key'),
  webhookEndpointNotFound: () => notFound('webhook endpoint'),
  /** sandbox.extend names a sandbox with no live hold (never created, stopped, deleted, expired, or another org's). */
  sandboxNotFound: () =>
    new TallyError(
      'NOT_FOUND',
      "No running sandbox with this resource.id in the organization; sandbox.extend is priced at the sandbox's own shape.",
      { field: 'resource.id' },
    ),

  missingCredentials: (message?: string) => new TallyError('MISSING_CREDENTIALS', message),
  roleForbidden: (message: string) => new TallyError('ROLE_FORBIDDEN', message),
  actionNotAllowedForApiKey: (message: string) => new TallyError('ACTION_NOT_ALLOWED_FOR_API_KEY', message),
  /** Every verify for a suspended organization (docs/ORGANIZATIONS.md), until it is resumed. */
  orgSuspended: () => new TallyError('ORG_SUSPENDED'),
  orgExists: () => new TallyError('CONFLICT', 'An organization with this id already exists.', { field: 'id' }),
  unknownPlan: (field = 'plan') => invalidRequest(field, `${field} is not a plan of the catalog.`),
  conflict: (message: string, field?: string) => new TallyError('CONFLICT', message, field ? { field } : {}),
  rateLimited: (message: string, retryAfterSeconds?: number) =>
    new TallyError('RATE_LIMITED', message, { retryAfterSeconds }),
  planTierTooLow: (message: string) => new TallyError('PLAN_TIER_TOO_LOW', message),
  concurrentSandboxLimit: (message: string, retryAfterSeconds: number) =>
    new TallyError('CONCURRENT_SANDBOX_LIMIT', message, { retryAfterSeconds }),
  insufficientSandboxHours: (message: string) => new TallyError('INSUFFICIENT_SANDBOX_HOURS', message),
  insufficientAgentCredits: (message: string) => new TallyError('INSUFFICIENT_AGENT_CREDITS', message),
  payloadTooLarge: (message?: string) => new TallyError('PAYLOAD_TOO_LARGE', message),
  /** A dependency failed and the request was refused rather than answered wrongly (fail closed). */
  dependencyUnavailable: (message: string, retryAfterSeconds?: number) =>
    new TallyError('DEPENDENCY_UNAVAILABLE', message, retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  /**
   * A request refused because a dependency failed under it (connection refused, lost, timed out):
   * nothing was decided, so it failed closed; the caller should retry shortly. Built by the one
   * filter that classifies driver errors (libs/platform's dependency-failure.ts).
   */
  dependencyDown: (dependency: Dependency) =>
    new TallyError(
      'DEPENDENCY_UNAVAILABLE',
      `${DEPENDENCY_NAMES[dependency]} (${dependency}) is unavailable; the request failed closed (refused, nothing was decided). Retry shortly.`,
      { retryAfterSeconds: 1 },
    ),
  /** A decision already made elsewhere (the permission matrix, quota, a remote service) with its code. */
  decided: (code: ErrorCode, message?: string, details?: ErrorDetails) => new TallyError(code, message, details),
} as const;

/** The one check that a request names an action of the catalog. */
export function assertAction(action: unknown): asserts action is Action {
  if (!isAction(action)) throw Errors.unknownAction();
}

/** The one check that a request names a well-formed organization id. */
export function assertOrgId(orgId: unknown, field = 'orgId'): asserts orgId is string {
  if (!isOrgId(orgId)) throw Errors.invalidOrgId(field);
}
