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

export const authEnv = (ctx: TestContext, extra: Record<string, string> = {}) =>
  ctx.env({
    JWT_SECRET,
    JWT_ISSUER: 'test-idp',
    JWT_AUDIENCE: 'tally-auth',
    THROTTLE_MAX_FAILURES: '1000',
    LAST_USED_INTERVAL_SECONDS: '1',
    ...extra,
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
