import type { Action } from '@tally/contracts';

/** Metadata key of `@RequireAction`. */
export const REQUIRED_ACTION = Symbol('REQUIRED_ACTION');

/** What a route's `resource` and `params` callbacks see of the request. */
export interface RequestView {
  params: Record<string, string>;
  body: unknown;
  /** The caller's Idempotency-Key, if any: a resource minted from it is the same on a retry. */
  idempotencyKey?: string;
}

export interface RequireActionOptions {
  /** Route parameter holding the organization id (default `orgId`; else the `x-org-id` header). */
  orgIdParam?: string;
  /** The resource the call addresses, for the verified event (e.g. the sandbox id from the route). */
  resource?: (request: RequestView) => { type: string; id: string } | undefined;
  /** Action parameters for the verified event and quota (e.g. shape, maxLifeSeconds). */
  params?: (request: RequestView) => Record<string, unknown> | undefined;
}

export interface RequiredAction extends RequireActionOptions {
  action: Action;
}
