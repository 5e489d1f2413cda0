import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Topics, topicName } from '@tally/contracts';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { bearer, call, metric, newOrgId, newUserId, startAuth, userToken, verify } from './auth-harness';

/**
 * Issue 11, finding 4: one request's params cannot take other organizations' events down with it.
 * Params and resource are bounded (400 naming the field), each event is serialized when it is
 * queued, and the queues are bounded (503 and a metric when full).
 */
describe("auth: one request's params cannot drop other orgs' events", () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;
  const orgs = [newOrgId(), newOrgId()];
  const keys: string[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ app, url } = await startAuth(ctx, { EVENT_BATCH_MS: '500' }));
    for (const orgId of orgs) {
      const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
      const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, {
        headers: bearer(owner),
        body: { name: 'k' },
      });
      keys.push(created.body.key as string);
    }
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('refuses a deeply nested params with 400 naming it, and the batch it would have joined arrives', async () => {
    const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
    const raw = `{"key":${JSON.stringify(keys[0])},"action":"sandbox.list","orgId":"${orgs[0]}","params":{"x":${deep}}}`;
    const others = await Promise.all(
      Array.from({ length: 20 }, () =>
        verify(url, {
          key: keys[1],
          action: 'sandbox.delete',
          orgId: orgs[1],
          resource: { type: 'sandbox', id: 'SBX-1' },
        }),
      ),
    );
    const bad = await call(url, 'POST', '/v1/verify', { headers: { 'x-service-token': 'test-service-token' }, raw });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_REQUEST', field: expect.stringMatching(/^params\.x/) });
    expect(JSON.stringify(bad.body)).not.toContain('[[[');
    expect(others.every((answer) => answer.status === 200)).toBe(true);

    const ids = new Set(others.map((answer) => answer.body.eventId as string));
    const consumer = createKafka('auth-params-test', [ctx.kafkaBrokers]).consumer({ groupId: `${ctx.topicPrefix}p` });
    const seen = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topic: topicName(ctx.topicPrefix, Topics.actionVerified), fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.add(JSON.parse(message.value!.toString()).id) });
    try {
      await expectEventually(() => expect([...ids].filter((id) => !seen.has(id))).toEqual([]), 30_000);
    } finally {
      await consumer.disconnect();
    }
  });

  it.each([
    [{ params: { shape: 'lar\u0000ge' } }, 'params.shape'],
    [{ params: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])) }, 'params'],
    [{ params: { blob: 'x'.repeat(5_000) } }, 'params'],
    [{ resource: { type: 'sandbox', id: 'SBX-1\n' } }, 'resource.id'],
  ])('refuses out-of-bounds %j with 400 naming %s', async (extra, field) => {
    const answer = await verify(url, { key: keys[0], action: 'sandbox.list', orgId: orgs[0], ...extra });
    expect(answer).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST', field } });
  });
});

describe('auth: bounded event queues', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let url: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    // Flushed only every 10 s: the queue fills within the test.
    ({ app, url } = await startAuth(ctx, { EVENT_BATCH_MS: '10000', EVENT_QUEUE_MAX: '30' }));
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.dispose();
  });

  it('answers 503 once the queue of events is full, and counts it', async () => {
    const orgId = newOrgId();
    const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
    const created = await call(url, 'POST', `/v1/orgs/${orgId}/api-keys`, {
      headers: bearer(owner),
      body: { name: 'k' },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      statuses.push((await verify(url, { key: created.body.key, action: 'sandbox.list', orgId })).status);
    }
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(30)).toEqual(Array(10).fill(503));
    expect(await metric(url, 'auth_events_refused_total')).toBe(10);
  });
});
