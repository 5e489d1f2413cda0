import { base32, formatApiKey } from '@tally/contracts';
import { randomBytes } from 'node:crypto';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createDataSource } from '@tally/database';
import { TestContext } from '@tally/testing';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { appUrl, signDashboardJwt, startApp } from './apps';
import type { Role } from './apps';

/** Shared by the auth e2e tests: booting auth, dashboard users' JWTs, HTTP helpers. */
export const JWT_SECRET = 'test-dashboard-secret-0123456789-abcdef';
export const SERVICE_TOKEN = 'test-service-token';

/** Development rules (short test credentials); quota switched off unless a test wires it (quotaEnv). */
export const authEnv = (ctx: TestContext, extra: Record<string, string> = {}) =>
  ctx.env({
    SERVICE_TOKENS: SERVICE_TOKEN,
    TALLY_ENV: 'development',
    QUOTA_DISABLED: 'true',
    JWT_SECRET,
    JWT_ISSUER: 'test-idp',
    JWT_AUDIENCE: 'tally-auth',
    THROTTLE_MAX_FAILURES: '1000',
    LAST_USED_INTERVAL_SECONDS: '1',
    ...extra,
  });

/** auth's own credential for quota: quota accepts it (TestContext.env), auth does not. */
export const AUTH_TO_QUOTA_TOKEN = 'test-auth-to-quota-token';
export const quotaEnv = (quotaUrl: string) => ({
  QUOTA_DISABLED: 'false',
  QUOTA_URL: quotaUrl,
  QUOTA_SERVICE_TOKEN: AUTH_TO_QUOTA_TOKEN,
});

export async function startAuth(
  ctx: TestContext,
  extra: Record<string, string> = {},
): Promise<{ app: NestFastifyApplication; url: string }> {
  const app = await startApp('auth', authEnv(ctx, extra));
  return { app, url: appUrl(app) };
}

export const openDatabase = (ctx: TestContext): Promise<DataSource> =>
  createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();

export const newOrgId = () => `ORG-${ulid()}`;
export const newUserId = () => `USR-${ulid()}`;

export function userToken(userId: string, memberships: Array<{ orgId: string; role: Role }>, extra = {}): string {
  return signDashboardJwt(
    { sub: userId, memberships, iss: 'test-idp', aud: 'tally-auth', ...extra },
    { algorithm: 'HS256', secret: JWT_SECRET },
  );
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function call(
  url: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; raw?: string } = {},
): Promise<Answer> {
  const hasBody = options.body !== undefined || options.raw !== undefined;
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...options.headers },
    body: options.raw ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined),
  });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { unparsed: text };
  }
  return { status: response.status, body, headers: response.headers };
}

export const service = { 'x-service-token': SERVICE_TOKEN };
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export const verify = (url: string, body: unknown, headers: Record<string, string> = service) =>
  call(url, 'POST', '/v1/verify', { headers, body });

/** A counter or gauge of auth's /metrics, summed over the series whose labels include `labels`. */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  return text
    .split('\n')
    .filter(
      (line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && wanted.every((w) => line.includes(w)),
    )
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** A well-formed key (valid checksum) with an id nobody issued: each one is a fresh lookup. */
export const madeUpKey = (prefix = 'lysk-') =>
  formatApiKey(prefix, base32(randomBytes(10), 16), base32(randomBytes(32), 52));

/** A key with the same public id as `key` and a guessed secret. */
export const guessFor = (key: string, prefix = 'lysk-') =>
  formatApiKey(prefix, key.split('_')[0].slice(prefix.length), base32(randomBytes(32), 52));
