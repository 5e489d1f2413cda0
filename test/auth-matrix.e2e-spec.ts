import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, TestContext } from '@tally/testing';
import { DataSource } from 'typeorm';
import { Answer, bearer, call, newOrgId, newUserId, openDatabase, startAuth, userToken, verify } from './auth-harness';

/**
 * The permission matrix, table-driven, against the booted auth app. Expectations are written out
 * from docs/ARCHITECTURE.md §1 and the published rules (reference/platform-api-key-permissions.txt), not
 * derived from the code under test.
 */
const RESOURCE_ACTIONS = [
  'sandbox.create',
  'sandbox.list',
  'sandbox.get',
  'sandbox.action.execute',
  'sandbox.preview',
  'sandbox.file.copy',
  'sandbox.extend',
  'sandbox.delete',
  'project.create',
  'project.list',
  'project.delete',
  'mcp_server.create',
  'mcp_server.list',
  'mcp_server.associate',
  'mcp_server.delete',
  'org.packages.read',
  'org.usage.read',
  'agent.run',
];
/** Administrative actions and the dashboard roles allowed each (API keys: none). */
const ADMIN_ACTIONS: Record<string, Array<'owner' | 'admin' | 'member'>> = {
  'org.settings.update': ['owner', 'admin'],
  'org.members.manage': ['owner', 'admin'],
  'org.invitations.manage': ['owner', 'admin'],
  'billing.purchase': ['owner'],
  'billing.read': ['owner'],
  'api_key.create': ['owner', 'admin'],
  // Members manage only their own keys, through the key routes; the action itself is admin's (DESIGN §1).
  'api_key.list': ['owner', 'admin'],
  'api_key.delete': ['owner', 'admin'],
};
/** Named in every verify: sandbox.create, extend and delete must name their sandbox (400 otherwise). */
const SANDBOX = { type: 'sandbox', id: 'SBX-matrix' };
type Principal = 'apiKey' | 'owner' | 'admin' | 'member';
const PRINCIPALS: Principal[] = ['apiKey', 'owner', 'admin', 'member'];
const USERS = ['owner', 'admin', 'member'] as const;

interface Case {
  name: string;
  run: () => Promise<Answer>;
  status: number;
  code?: string;
  check?: (answer: Answer) => Promise<void> | void;
}

describe('auth: the permission matrix', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  let db: DataSource;
  const orgA = newOrgId();
  const orgB = newOrgId();
  const ids = { owner: newUserId(), admin: newUserId(), member: newUserId(), ownerB: newUserId() };
  const tokens = {
    owner: userToken(ids.owner, [{ orgId: orgA, role: 'owner' }]),
    admin: userToken(ids.admin, [{ orgId: orgA, role: 'admin' }]),
    member: userToken(ids.member, [{ orgId: orgA, role: 'member' }]),
    ownerB: userToken(ids.ownerB, [{ orgId: orgB, role: 'owner' }]),
  };
  let apiKey: string;
  let revokedKey: string;

  const createKey = async (token: string, orgId = orgA, name = 'k') => {
    const answer = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(token), body: { name } });
    expect(answer.status).toBe(201);
    return answer.body as { id: string; key: string };
  };
  /** A key the member owns (members cannot create keys: say it was made while they were admin). */
  const memberKey = async () => {
    const key = await createKey(tokens.owner);
    await db.query('UPDATE api_keys SET created_by = $1 WHERE id = $2', [ids.member, key.id]);
    return key;
  };
  const credentials = (principal: Principal): Record<string, string> =>
    principal === 'apiKey' ? { 'x-api-key': apiKey } : bearer(tokens[principal]);

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx));
    db = await openDatabase(ctx);
    apiKey = (await createKey(tokens.owner, orgA, 'matrix key')).key;
    const revoked = await createKey(tokens.owner, orgA, 'revoked key');
    expect(
      (await call(url, 'DELETE', `/v1/orgs/${orgA}/api-keys/${revoked.id}`, { headers: bearer(tokens.owner) })).status,
    ).toBe(204);
    revokedKey = revoked.key;
  });

  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const cases: Case[] = [];
  const ALL_ACTIONS = [...RESOURCE_ACTIONS, ...Object.keys(ADMIN_ACTIONS)];

  // Every action, own org and another org, for each principal.
  for (const action of ALL_ACTIONS) {
    const adminOnly = ADMIN_ACTIONS[action];
    cases.push({
      name: `apiKey ${action} in its own org`,
      run: () => verify(url, { key: apiKey, action, orgId: orgA, resource: SANDBOX }),
      ...(adminOnly ? { status: 403, code: 'ACTION_NOT_ALLOWED_FOR_API_KEY' } : { status: 200 }),
      check: (answer) => {
        if (answer.status === 200) expect(answer.body).toMatchObject({ allowed: true, orgId: orgA, action });
      },
    });
    cases.push({
      name: `apiKey ${action} in another org`,
      run: () => verify(url, { key: apiKey, action, orgId: orgB, resource: SANDBOX }),
      status: 404,
      code: 'NOT_FOUND',
    });
    for (const role of USERS) {
      const allowed = !adminOnly || adminOnly.includes(role);
      cases.push({
        name: `${role} ${action} in own org`,
        run: () => call(url, 'POST', '/v1/authorize', { headers: bearer(tokens[role]), body: { action, orgId: orgA } }),
        ...(allowed ? { status: 200 } : { status: 403, code: 'ROLE_FORBIDDEN' }),
      });
      cases.push({
        name: `${role} ${action} in another org`,
        run: () => call(url, 'POST', '/v1/authorize', { headers: bearer(tokens[role]), body: { action, orgId: orgB } }),
        status: 404,
        code: 'NOT_FOUND',
      });
    }
  }

  // Every key-management endpoint, for each principal.
  const canManage = (p: Principal) => p === 'owner' || p === 'admin';
  for (const principal of PRINCIPALS) {
    const keyDenied = principal === 'apiKey' ? { status: 403, code: 'ACTION_NOT_ALLOWED_FOR_API_KEY' } : undefined;
    cases.push({
      name: `${principal} creates a key`,
      run: () =>
        call(url, 'POST', `/v1/orgs/${orgA}/api-keys`, { headers: credentials(principal), body: { name: 'x' } }),
      ...(keyDenied ?? (canManage(principal) ? { status: 201 } : { status: 403, code: 'ROLE_FORBIDDEN' })),
      check: (answer) => {
        if (answer.status === 201) expect(answer.body.key).toMatch(/^lysk-[0-9a-z]{16}_[0-9a-z]{52}_[0-9a-z]{6}$/);
      },
    });
    cases.push({
      name: `${principal} creates a key in another org`,
      run: () =>
        call(url, 'POST', `/v1/orgs/${orgB}/api-keys`, { headers: credentials(principal), body: { name: 'x' } }),
      ...(keyDenied ?? { status: 404, code: 'NOT_FOUND' }),
    });
    cases.push({
      name: `${principal} lists own keys`,
      run: () => call(url, 'GET', `/v1/orgs/${orgA}/api-keys`, { headers: credentials(principal) }),
      ...(keyDenied ?? { status: 200 }),
      check: (answer) => {
        if (answer.status !== 200) return;
        const items = answer.body.items as Array<Record<string, unknown>>;
        for (const item of items) {
          expect(item.createdBy).toBe(ids[principal as 'owner']);
          expect(Object.keys(item).sort()).toEqual(
            ['createdAt', 'createdBy', 'displayPrefix', 'id', 'lastUsedAt', 'name'].sort(),
          );
        }
      },
    });
    cases.push({
      name: `${principal} lists every key of the org`,
      run: () => call(url, 'GET', `/v1/orgs/${orgA}/api-keys?scope=org`, { headers: credentials(principal) }),
      ...(keyDenied ?? (canManage(principal) ? { status: 200 } : { status: 403, code: 'ROLE_FORBIDDEN' })),
      check: (answer) => {
        if (answer.status !== 200) return;
        const creators = new Set((answer.body.items as Array<{ createdBy: string }>).map((item) => item.createdBy));
        expect(creators.has(ids.owner)).toBe(true);
        expect(JSON.stringify(answer.body)).not.toMatch(/secret|hash/i);
      },
    });
    cases.push({
      name: `${principal} lists keys of another org`,
      run: () => call(url, 'GET', `/v1/orgs/${orgB}/api-keys?scope=org`, { headers: credentials(principal) }),
      ...(keyDenied ?? { status: 404, code: 'NOT_FOUND' }),
    });
    cases.push({
      name: `${principal} revokes own key`,
      run: async () => {
        const key = principal === 'member' ? await memberKey() : await createKey(tokens.owner);
        if (principal === 'admin')
          await db.query('UPDATE api_keys SET created_by = $1 WHERE id = $2', [ids.admin, key.id]);
        return call(url, 'DELETE', `/v1/orgs/${orgA}/api-keys/${key.id}`, { headers: credentials(principal) });
      },
      ...(keyDenied ?? { status: 204 }),
    });
    cases.push({
      name: `${principal} revokes another user's key`,
      run: async () => {
        const key = await createKey(principal === 'owner' ? tokens.admin : tokens.owner);
        const answer = await call(url, 'DELETE', `/v1/orgs/${orgA}/api-keys/${key.id}`, {
          headers: credentials(principal),
        });
        // The key still works unless the revoke succeeded.
        const used = await verify(url, { key: key.key, action: 'sandbox.list', orgId: orgA });
        expect(used.status).toBe(answer.status === 204 ? 401 : 200);
        return answer;
      },
      // Another user's key is indistinguishable from a missing one for a member.
      ...(keyDenied ?? (canManage(principal) ? { status: 204 } : { status: 404, code: 'NOT_FOUND' })),
    });
    cases.push({
      name: `${principal} revokes a key of another org`,
      run: async () => {
        const key = await createKey(tokens.ownerB, orgB);
        const viaOwnOrg = await call(url, 'DELETE', `/v1/orgs/${orgA}/api-keys/${key.id}`, {
          headers: credentials(principal),
        });
        if (principal !== 'apiKey') expect(viaOwnOrg).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
        return call(url, 'DELETE', `/v1/orgs/${orgB}/api-keys/${key.id}`, { headers: credentials(principal) });
      },
      ...(keyDenied ?? { status: 404, code: 'NOT_FOUND' }),
    });
  }
  // An API key presented as a Bearer token is still an API key.
  cases.push({
    name: 'apiKey as Bearer on key creation',
    run: () => call(url, 'POST', `/v1/orgs/${orgA}/api-keys`, { headers: bearer(apiKey), body: { name: 'x' } }),
    status: 403,
    code: 'ACTION_NOT_ALLOWED_FOR_API_KEY',
  });
  cases.push({
    name: 'no dashboard credential on listing',
    run: () => call(url, 'GET', `/v1/orgs/${orgA}/api-keys`),
    status: 401,
    code: 'MISSING_CREDENTIALS',
  });
  cases.push({
    name: 'an expired dashboard JWT',
    run: () =>
      call(url, 'GET', `/v1/orgs/${orgA}/api-keys`, {
        headers: bearer(
          userToken(ids.owner, [{ orgId: orgA, role: 'owner' }], { exp: Math.floor(Date.now() / 1000) - 3600 }),
        ),
      }),
    status: 401,
    code: 'MISSING_CREDENTIALS',
  });

  // Keys that are not valid, and the service credential.
  cases.push({
    name: 'a revoked key',
    run: () => verify(url, { key: revokedKey, action: 'sandbox.list', orgId: orgA }),
    status: 401,
    code: 'API_KEY_REVOKED',
  });
  cases.push({
    name: 'a malformed key',
    run: () => verify(url, { key: 'lysk-not-a-key', action: 'sandbox.list', orgId: orgA }),
    status: 401,
    code: 'INVALID_API_KEY',
  });
  cases.push({
    name: 'a key with a wrong checksum',
    run: () => {
      const last = apiKey.at(-1) === 'a' ? 'b' : 'a';
      return verify(url, { key: `${apiKey.slice(0, -1)}${last}`, action: 'sandbox.list', orgId: orgA });
    },
    status: 401,
    code: 'INVALID_API_KEY',
  });
  cases.push({
    name: 'a well-formed key with a wrong secret',
    run: () => {
      const [prefixAndId] = apiKey.split('_');
      return verify(url, { key: `${prefixAndId}_${'a'.repeat(52)}_000000`, action: 'sandbox.list', orgId: orgA });
    },
    status: 401,
    code: 'INVALID_API_KEY',
  });
  cases.push({
    name: 'a missing service credential',
    run: () => verify(url, { key: apiKey, action: 'sandbox.list', orgId: orgA }, {}),
    status: 401,
    code: 'MISSING_CREDENTIALS',
  });
  cases.push({
    name: 'a wrong service credential',
    run: () => verify(url, { key: apiKey, action: 'sandbox.list', orgId: orgA }, { 'x-service-token': 'nope' }),
    status: 401,
    code: 'MISSING_CREDENTIALS',
  });
  cases.push({
    name: 'an API key instead of a service credential',
    run: () => verify(url, { key: apiKey, action: 'sandbox.list', orgId: orgA }, { 'x-service-token': apiKey }),
    status: 401,
    code: 'MISSING_CREDENTIALS',
  });
  cases.push({
    name: 'an unknown action',
    run: () => verify(url, { key: apiKey, action: 'sandbox.teleport', orgId: orgA }),
    status: 400,
    code: 'INVALID_REQUEST',
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const answer = await c.run();
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: c.status, code: c.code });
    if (c.status >= 400)
      expect(answer.body).toEqual(
        expect.objectContaining({ message: expect.any(String), requestId: expect.any(String) }),
      );
    await c.check?.(answer);
  });

  it('audits every revoke: who, when, which key, from where', async () => {
    const key = await createKey(tokens.owner);
    const before = Date.now();
    await call(url, 'DELETE', `/v1/orgs/${orgA}/api-keys/${key.id}`, {
      headers: { ...bearer(tokens.admin), 'user-agent': 'matrix-test' },
    });
    const rows = await db.query(`SELECT * FROM api_key_audit WHERE key_id = $1 AND action = 'revoke'`, [key.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      org_id: orgA,
      actor_user_id: ids.admin,
      actor_role: 'admin',
      key_owner_id: ids.owner,
      source_address: '127.0.0.1',
      user_agent: 'matrix-test',
      request_id: expect.any(String),
    });
    expect(new Date(rows[0].occurred_at).getTime()).toBeGreaterThanOrEqual(before - 1_000);
    // Revoking again is harmless and not audited twice.
    await call(url, 'DELETE', `/v1/orgs/${orgA}/api-keys/${key.id}`, { headers: bearer(tokens.owner) });
    expect(
      await db.query(`SELECT 1 FROM api_key_audit WHERE key_id = $1 AND action = 'revoke'`, [key.id]),
    ).toHaveLength(1);
  });
});
