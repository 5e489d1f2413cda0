import { Action, actionSpec, ErrorCode } from '@tally/contracts';

/** Who is asking: an API key, or a dashboard user with a role in the organization. */
export type Principal = { kind: 'api_key' } | { kind: 'user'; role: 'owner' | 'admin' | 'member' };

export type Decision = { allowed: true } | { allowed: false; code: ErrorCode; reason: string };

const rank = { member: 0, admin: 1, owner: 2 } as const;

/**
 * The platform's published rules: an API key may do every resource action of its own org and no
 * administrative action (keys cannot manage keys); dashboard users are bounded by their role.
 * Organization membership is checked before this: a foreign org is NOT_FOUND, not a denial here.
 */
export function decide(principal: Principal, action: Action): Decision {
  const spec = actionSpec(action);
  if (principal.kind === 'api_key') {
    return spec.audience === 'resource'
      ? { allowed: true }
      : {
          allowed: false,
          code: 'ACTION_NOT_ALLOWED_FOR_API_KEY',
          reason: `${action} needs a dashboard login; API keys cannot perform it.`,
        };
  }
  const needed = spec.minRole ?? 'member';
  return rank[principal.role] >= rank[needed]
    ? { allowed: true }
    : { allowed: false, code: 'ROLE_FORBIDDEN', reason: `${action} needs the ${needed} role.` };
}
