/* Development dashboard JWTs, signed with the stack's JWT_SECRET (HS256) the way the identity
 * provider would: `npm run token -- --org ORG-… [--role owner|admin|member] [--user USR-…] [--hours 12]`.
 * Tally issues no dashboard credentials in production; this is for the dev stack and demos. */
import { signDashboardJwt } from '../apps/auth/src/dashboard-auth/jwt-signer';
import type { Role } from '../apps/auth/src/dashboard-auth/jwt-verifier';
import { loadStackEnv, requireEnv } from './stack-env';

const ROLES: Role[] = ['owner', 'admin', 'member'];

export interface TokenRequest {
  orgId: string;
  role: Role;
  userId: string;
  hours: number;
}

/** Signs with JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE as auth reads them (same defaults). */
export function dashboardToken(request: TokenRequest): string {
  const now = Math.floor(Date.now() / 1000);
  return signDashboardJwt(
    {
      sub: request.userId,
      memberships: [{ orgId: request.orgId, role: request.role }],
      iss: process.env.JWT_ISSUER || 'tally-dashboard',
      aud: process.env.JWT_AUDIENCE || 'tally-auth',
      iat: now,
      exp: now + Math.round(request.hours * 3600),
    },
    { algorithm: 'HS256', secret: requireEnv('JWT_SECRET') },
  );
}

function parseArgs(argv: string[]): TokenRequest {
  const value = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const orgId = value('org');
  if (!orgId || !/^ORG-[0-9A-Z]{26}$/.test(orgId)) throw new Error('--org ORG-<ulid> is required');
  const role = (value('role') ?? 'admin') as Role;
  if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
  const hours = Number(value('hours') ?? 12);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30) throw new Error('--hours must be in (0, 720]');
  return { orgId, role, userId: value('user') ?? `USR-dev-${role}`, hours };
}

if (require.main === module) {
  try {
    loadStackEnv();
    process.stdout.write(`${dashboardToken(parseArgs(process.argv.slice(2)))}\n`);
  } catch (error) {
    console.error(`token: ${(error as Error).message}`);
    process.exit(1);
  }
}
