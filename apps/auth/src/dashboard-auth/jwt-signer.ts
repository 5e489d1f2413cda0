import { createHmac, KeyObject, sign } from 'node:crypto';
import type { Role } from './jwt-verifier';

export interface DashboardClaims {
  sub: string;
  memberships: Array<{ orgId: string; role: Role }>;
  iss: string;
  aud: string | string[];
  /** Seconds since the epoch; defaults to now + 10 minutes. */
  exp?: number;
  nbf?: number;
  iat?: number;
  [claim: string]: unknown;
}

/**
 * Signs a dashboard JWT the way the identity provider does. Tally never issues dashboard
 * credentials in production; this exists for tests, benchmarks and local development.
 */
export function signDashboardJwt(
  claims: DashboardClaims,
  key: { algorithm: 'HS256'; secret: string } | { algorithm: 'RS256' | 'ES256'; privateKey: KeyObject; kid?: string },
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: key.algorithm, typ: 'JWT', ...('kid' in key && key.kid ? { kid: key.kid } : {}) };
  const payload = { iat: now, exp: now + 600, ...claims };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${encode(header)}.${encode(payload)}`;
  const signature =
    key.algorithm === 'HS256'
      ? createHmac('sha256', key.secret).update(signed).digest()
      : key.algorithm === 'ES256'
        ? sign('sha256', Buffer.from(signed), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', Buffer.from(signed), key.privateKey);
  return `${signed}.${signature.toString('base64url')}`;
}
