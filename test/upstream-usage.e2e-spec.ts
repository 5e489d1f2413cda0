import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { agentUsageEvent, sandboxUsageEvent, Topics } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createTestContext, TestContext } from '@tally/testing';
import { appUrl, startApp } from './apps';
import { bearer, call, newOrgId, newUserId, SERVICE_TOKEN, startAuth, userToken } from './auth-harness';

/** The example upstream reports what ran through the UsageReporter: valid events on the usage topics. */
describe('upstream example: usage through the UsageReporter', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  const apps: NestFastifyApplication[] = [];
  const orgId = newOrgId();

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await ctx?.dispose();
  });

  it('create, delete and an agent run become sandbox.started, sandbox.stopped and agent.consumed', async () => {
    ctx = await createTestContext();
    const topics = [Topics.usageSandbox, Topics.usageAgent].map((topic) => `${ctx.topicPrefix}${topic}`);
    const kafka = createKafka('upstream-usage-check', [ctx.kafkaBrokers]);
    await ensureTopics(kafka, topics, 1);
    const auth = await startAuth(ctx);
    apps.push(auth.app);
    const upstreamApp = await startApp('upstream-example', {
      AUTH_URL: auth.url,
      AUTH_SERVICE_TOKEN: SERVICE_TOKEN,
      KAFKA_BROKERS: ctx.kafkaBrokers,
      KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
      PORT: '0',
      LOG_LEVEL: 'silent',
    });
    apps.push(upstreamApp);
    const upstream = appUrl(upstreamApp);
    const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
    const key = (
      await call(auth.url, 'POST', `/v1/orgs/${orgId}/api-keys`, { headers: bearer(owner), body: { name: 'u' } })
    ).body as { key: string };

    const headers = { 'x-api-key': key.key };
    const created = await call(upstream, 'POST', `/v1/orgs/${orgId}/sandboxes`, { headers, body: { shape: 'small' } });
    const { sandboxId } = created.body as { sandboxId: string };
    const deleted = await call(upstream, 'DELETE', `/v1/orgs/${orgId}/sandboxes/${sandboxId}`, { headers });
    const ran = await call(upstream, 'POST', `/v1/orgs/${orgId}/agent-runs`, { headers });
    const ids = [created, deleted, ran].map((answer) => (answer.body as { usageEventId: string }).usageEventId);
    expect([created, deleted, ran].map((answer) => answer.status)).toEqual([201, 200, 201]);
    expect(ids.every(Boolean)).toBe(true);

    const seen: { topic: string; value: unknown }[] = [];
    const consumer = kafka.consumer({ groupId: `${ctx.topicPrefix}upstream-usage`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((done) => {
      void consumer.run({
        eachMessage: async ({ topic, message }) => {
          seen.push({ topic, value: JSON.parse(message.value!.toString()) });
          if (seen.length === 3) done();
        },
      });
    });
    await consumer.disconnect();
    const sandbox = seen
      .filter((e) => e.topic.endsWith(Topics.usageSandbox))
      .map((e) => sandboxUsageEvent.parse(e.value));
    expect(sandbox.map((e) => [e.type, e.data.sequence, e.data.sandboxId, e.id])).toEqual([
      ['sandbox.started', 0, sandboxId, ids[0]],
      ['sandbox.stopped', 1, sandboxId, ids[1]],
    ]);
    const agent = agentUsageEvent.parse(seen.find((e) => e.topic.endsWith(Topics.usageAgent))!.value);
    expect(agent).toMatchObject({ id: ids[2], subject: orgId, data: { credits: 1_000n, kind: 'inference' } });

    // The example mints sandbox ids: a retry (same Idempotency-Key) names the same sandbox, a caller's id is ignored.
    const retry = { ...headers, 'idempotency-key': `retry-${orgId}` };
    const tries = await Promise.all(
      [1, 2].map(() => call(upstream, 'POST', `/v1/orgs/${orgId}/sandboxes`, { headers: retry, body: {} })),
    );
    expect(tries.map((t) => t.status)).toEqual([201, 201]);
    expect((tries[0].body as { sandboxId: string }).sandboxId).toBe((tries[1].body as { sandboxId: string }).sandboxId);
    const chosen = await call(upstream, 'POST', `/v1/orgs/${orgId}/sandboxes`, { headers, body: { sandboxId: 'X' } });
    expect((chosen.body as { sandboxId: string }).sandboxId).toMatch(/^SBX-/);
  });
});
