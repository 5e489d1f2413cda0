import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AddressInfo, createServer } from 'node:net';
import { createTestContext, TestContext } from '@tally/testing';
import { bearer, call, newOrgId, newUserId, SERVICE_TOKEN, startAuth, userToken } from './auth-harness';
import { appUrl, startApp } from './apps';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `@RequireAction` in an upstream app: every answer of verify, passed through to the API caller. */
describe('auth: the @RequireAction guard in an upstream app', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  const apps: NestFastifyApplication[] = [];
  let upstream: string;
  let orphan: string;
  const orgId = newOrgId();
  const otherOrg = newOrgId();
  const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
  let key: { id: string; key: string };

  const startUpstream = async (authUrl: string, serviceToken = SERVICE_TOKEN) => {
    const app = await startApp('upstream-example', {
      AUTH_URL: authUrl,
      AUTH_SERVICE_TOKEN: serviceToken,
      PORT: '0',
      LOG_LEVEL: 'silent',
    });
    apps.push(app);
    return appUrl(app);
  };

  beforeAll(async () => {
    ctx = await createTestContext();
    const auth = await startAuth(ctx);
    apps.push(auth.app);
    upstream = await startUpstream(auth.url);
    orphan = await startUpstream(`http://127.0.0.1:${await closedPort()}`); // auth unreachable
    key = (await call(auth.url, 'POST', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(owner), body: { name: 'g' } }))
      .body as typeof key;
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await ctx?.dispose();
  });

  it('runs the route for an allowed action, with x-api-key or a Bearer key', async () => {
    const created = await call(upstream, 'POST', `/v1/orgs/${orgId}/sandboxes`, {
      headers: { 'x-api-key': key.key },
      body: { shape: 'large', maxLifeSeconds: 600 },
    });
    expect(created).toMatchObject({ status: 201, body: { orgId, keyId: key.id, action: 'sandbox.create' } });
    const listed = await call(upstream, 'GET', `/v1/orgs/${orgId}/sandboxes`, { headers: bearer(key.key) });
    expect(listed).toMatchObject({ status: 200, body: { action: 'sandbox.list' } });
  });

  it.each([
    ['no key', {}, 'GET', orgId, 401, 'MISSING_CREDENTIALS'],
    ['a malformed key', { 'x-api-key': 'lysk-nope' }, 'GET', orgId, 401, 'INVALID_API_KEY'],
    ['another organization', 'key', 'GET', otherOrg, 404, 'NOT_FOUND'],
    ['an administrative action', 'key', 'PUT', orgId, 403, 'ACTION_NOT_ALLOWED_FOR_API_KEY'],
  ] as const)('answers %s with auth’s status and error body', async (_what, headers, method, org, status, code) => {
    const path = method === 'PUT' ? `/v1/orgs/${org}/settings` : `/v1/orgs/${org}/sandboxes`;
    const answer = await call(upstream, method, path, {
      headers: headers === 'key' ? { 'x-api-key': key.key } : headers,
    });
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual({ code, message: expect.any(String), requestId: expect.any(String) });
  });

  it('fails closed with 503 when auth is unreachable', async () => {
    const answer = await call(orphan, 'GET', `/v1/orgs/${orgId}/sandboxes`, { headers: { 'x-api-key': key.key } });
    expect(answer).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });
  });

  it('answers API_KEY_REVOKED once the key is revoked', async () => {
    const auth = appUrl(apps[0]);
    await call(auth, 'DELETE', `/v1/orgs/${orgId}/api-keys/${key.id}`, { headers: bearer(owner) });
    const answer = await call(upstream, 'GET', `/v1/orgs/${orgId}/sandboxes/SBX-1`, {
      headers: { 'x-api-key': key.key },
    });
    expect(answer).toMatchObject({ status: 401, body: { code: 'API_KEY_REVOKED' } });
  });
});
