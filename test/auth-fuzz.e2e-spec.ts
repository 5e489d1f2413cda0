import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createTestContext, TestContext } from '@tally/testing';
import fc from 'fast-check';
import { Answer, bearer, call, newOrgId, newUserId, service, startAuth, userToken } from './auth-harness';

/**
 * Generated request bodies against auth's JSON endpoints: not JSON, over 64 KiB, wrong types.
 * Each must get 400 or 413 with the error body; none may get a 5xx. More than 1,000 bodies.
 */
describe('auth: fuzzed bodies never cause a 500', () => {
  jest.setTimeout(180_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  const orgId = newOrgId();
  const owner = bearer(userToken(newUserId(), [{ orgId, role: 'owner' }]));
  let sent = 0;

  const endpoints = [
    { path: '/v1/verify', headers: service },
    { path: `/v1/orgs/${orgId}/api-keys`, headers: owner },
    { path: '/v1/authorize', headers: owner },
  ];

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx, { THROTTLE_MAX_FAILURES: '100000' }));
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
    expect(sent).toBeGreaterThanOrEqual(1_000);
  });

  const send = async (endpoint: number, raw: string, contentType = 'application/json'): Promise<Answer> => {
    sent++;
    const { path, headers } = endpoints[endpoint];
    return call(url, 'POST', path, { headers: { ...headers, 'content-type': contentType }, raw });
  };
  const isErrorBody = (answer: Answer) =>
    typeof answer.body.code === 'string' &&
    /^[A-Z_]+$/.test(answer.body.code) &&
    typeof answer.body.message === 'string' &&
    typeof answer.body.requestId === 'string';

  const endpoint = fc.integer({ min: 0, max: endpoints.length - 1 });
  const notJson = fc.string({ maxLength: 200 }).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  });
  const nonString = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  );
  // Each endpoint requires at least one of these as a string (verify: key, action, orgId; key
  // creation: name; authorize: action, orgId), so a body where all are something else is a 400.
  const wrongTypes = fc.record({
    key: nonString,
    action: nonString,
    name: nonString,
    orgId: nonString,
    resource: fc.anything(),
    params: fc.anything(),
    sourceAddress: fc.oneof(fc.string({ maxLength: 20 }), nonString),
  });

  it('answers 400 with the error body to bodies that are not JSON', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, notJson, fc.boolean(), async (target, text, plain) => {
        const answer = await send(target, text, plain ? 'text/plain' : 'application/json');
        expect(answer.status).toBe(400);
        expect(isErrorBody(answer)).toBe(true);
      }),
      { numRuns: 350 },
    );
  });

  it('answers 413 PAYLOAD_TOO_LARGE to bodies over 64 KiB', async () => {
    await fc.assert(
      fc.asyncProperty(
        endpoint,
        fc.integer({ min: 64 * 1024 + 1, max: 200 * 1024 }),
        fc.boolean(),
        async (target, size, json) => {
          const filler = 'x'.repeat(size);
          const raw = json ? JSON.stringify({ key: filler, action: 'sandbox.list', orgId }) : filler;
          const answer = await send(target, raw);
          expect(answer.status).toBe(413);
          expect(answer.body.code).toBe('PAYLOAD_TOO_LARGE');
          expect(isErrorBody(answer)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers 400 with the field to bodies with wrong types', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, wrongTypes, async (target, body) => {
        const raw = JSON.stringify(body);
        const answer = await send(target, raw);
        expect(answer.status).toBe(400);
        // Fastify refuses prototype-poisoning keys while parsing, before any field is looked at.
        const poisoned = /"(__proto__|constructor)"/.test(raw);
        expect(answer.body).toMatchObject({
          code: 'INVALID_REQUEST',
          ...(poisoned ? {} : { field: expect.any(String) }),
        });
        expect(isErrorBody(answer)).toBe(true);
      }),
      { numRuns: 350 },
    );
  });

  it('never answers 5xx to any JSON value', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, fc.jsonValue({ maxDepth: 4 }), async (target, value) => {
        const answer = await send(target, JSON.stringify(value) ?? 'null');
        expect(answer.status).toBeLessThan(500);
        if (answer.status >= 400) expect(isErrorBody(answer)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
