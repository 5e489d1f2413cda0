import { agentUsageEvent, sandboxUsageEvent, Topics } from '@tally/contracts';
import { createKafka, ensureTopics } from '@tally/kafka';
import { createTestContext, freePort, startPrivateKafka, TestContext } from '@tally/testing';
import { Kafka } from 'kafkajs';
import { ulid } from 'ulid';
import { usageEventId, UsageReportInvalid } from './usage-events';
import { UsageReporter, UsageReporterFull, UsageReporterOptions } from './usage-reporter';

const quiet = { warn: () => undefined, error: () => undefined };
const orgId = () => `ORG-${ulid()}`;

async function consumeAll(kafka: Kafka, topics: string[], count: number, group: string) {
  const seen: { topic: string; key: string; value: Record<string, unknown> }[] = [];
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await new Promise<void>((done) => {
    void consumer.run({
      eachMessage: async ({ topic, message }) => {
        seen.push({ topic, key: message.key!.toString(), value: JSON.parse(message.value!.toString()) });
        if (seen.length >= count) done();
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

describe('UsageReporter', () => {
  jest.setTimeout(180_000);
  let ctx: TestContext;
  const reporters: UsageReporter[] = [];
  const reporter = (options: Partial<UsageReporterOptions> = {}) => {
    const created = new UsageReporter({
      brokers: [ctx.kafkaBrokers],
      source: '//test/sandbox-runtime',
      topicPrefix: ctx.topicPrefix,
      logger: quiet,
      ...options,
    });
    reporters.push(created);
    return created;
  };
  const topics = () => [Topics.usageSandbox, Topics.usageAgent].map((t) => `${ctx.topicPrefix}${t}`);

  beforeAll(async () => {
    ctx = await createTestContext();
    await ensureTopics(createKafka('reporter-admin', [ctx.kafkaBrokers]), topics(), 3);
  });
  afterAll(async () => {
    await Promise.all(reporters.map((r) => r.close(1_000).catch(() => undefined)));
    await ctx.dispose();
  });

  it('sends valid CloudEvents, keyed by org, with per-sandbox sequences and deterministic ids', async () => {
    const usage = reporter();
    const org = orgId();
    const sandbox = { orgId: org, sandboxId: 'sbx-1', shape: 'small' };
    const reported = [
      usage.sandboxStarted(sandbox),
      usage.heartbeat({ ...sandbox, runtimeMs: 60_000 }),
      usage.heartbeat({ ...sandbox, runtimeMs: 60_000 }),
      usage.sandboxStopped({ ...sandbox, runtimeMs: 1_234 }),
      usage.agentConsumed({ orgId: org, runId: 'run-1', step: 1, milliCredits: 1_500, kind: 'inference' }),
    ];
    expect(reported.map((r) => r.sequence)).toEqual([0, 1, 2, 3, undefined]);
    expect(reported[1].id).toBe(usageEventId('sandbox.heartbeat', org, 'sbx-1', 1));
    expect(await usage.flush()).toBe(true);

    const seen = await consumeAll(
      createKafka('reporter-check', [ctx.kafkaBrokers]),
      topics(),
      5,
      `${ctx.topicPrefix}c1`,
    );
    const sandboxEvents = seen.filter((e) => e.topic.endsWith(Topics.usageSandbox)).map((e) => e.value);
    expect(sandboxEvents.map((e) => sandboxUsageEvent.parse(e).data.sequence)).toEqual([0, 1, 2, 3]);
    expect(sandboxEvents.map((e) => e.type)).toEqual([
      'sandbox.started',
      'sandbox.heartbeat',
      'sandbox.heartbeat',
      'sandbox.stopped',
    ]);
    const agent = agentUsageEvent.parse(seen.find((e) => e.topic.endsWith(Topics.usageAgent))!.value);
    expect(agent.data.credits).toBe(1_500n);
    expect(seen.every((e) => e.key === org && e.value.subject === org)).toBe(true);
  });

  it('a report sent again (or by a restarted runtime) carries the same id: a duplicate, not a second charge', () => {
    const [first, second] = [reporter(), reporter()];
    const heartbeat = { orgId: orgId(), sandboxId: 'sbx-2', shape: 'gpu', runtimeMs: 5_000, sequence: 7 };
    expect(first.heartbeat(heartbeat).id).toBe(second.heartbeat(heartbeat).id);
    const step = { orgId: heartbeat.orgId, runId: 'run-2', step: 'tool-3', milliCredits: 10, kind: 'tool' as const };
    expect(first.agentConsumed(step).id).toBe(first.agentConsumed(step).id);
    expect(first.agentConsumed({ ...step, step: 'tool-4' }).id).not.toBe(first.agentConsumed(step).id);
  });

  it('refuses what the contract refuses, before sending, naming the field', () => {
    const usage = reporter();
    const sandbox = { orgId: orgId(), sandboxId: 'sbx-3', shape: 'small' };
    expect(() => usage.heartbeat({ ...sandbox, runtimeMs: 10 })).toThrow(/data\.sequence/);
    usage.sandboxStarted(sandbox);
    expect(() => usage.heartbeat({ ...sandbox, runtimeMs: -1 })).toThrow(/data\.runtimeMs/);
    expect(() => usage.heartbeat({ ...sandbox, runtimeMs: 1.5 })).toThrow(UsageReportInvalid);
    expect(() => usage.sandboxStarted({ ...sandbox, orgId: 'acme' })).toThrow(/orgId/);
    expect(() =>
      usage.agentConsumed({ orgId: sandbox.orgId, runId: 'r', step: 1, milliCredits: 1, kind: 'bogus' as 'tool' }),
    ).toThrow(/data\.kind/);
    // A refused heartbeat took no sequence: the next one is still 1.
    expect(usage.heartbeat({ ...sandbox, runtimeMs: 10 }).sequence).toBe(1);
    expect(usage.stats().buffered).toBe(2);
  });

  it('Kafka unreachable: memory stays bounded, reports past the bound are refused, close() says what is unsent', async () => {
    const errors: string[] = [];
    const usage = reporter({
      brokers: [`127.0.0.1:${await freePort()}`],
      maxBufferedEvents: 5,
      initialBackoffMs: 10,
      maxBackoffMs: 50,
      logger: { warn: () => undefined, error: (m) => errors.push(m) },
    });
    const sandbox = { orgId: orgId(), sandboxId: 'sbx-4', shape: 'small' };
    usage.sandboxStarted(sandbox);
    for (let i = 0; i < 4; i++) usage.heartbeat({ ...sandbox, runtimeMs: 1_000 });
    expect(() => usage.heartbeat({ ...sandbox, runtimeMs: 1_000 })).toThrow(UsageReporterFull);
    expect(usage.stats()).toMatchObject({ buffered: 5, refused: 1 });
    await usage.close(300);
    expect(errors.join('\n')).toContain('closed with 5 events unsent');
  });

  it('a broker that stops answering and comes back: everything accepted arrives once, in order', async () => {
    const broker = await startPrivateKafka();
    try {
      const kafka = createKafka('reporter-private', [broker.brokers]);
      await ensureTopics(kafka, topics(), 1);
      const usage = reporter({ brokers: [broker.brokers], maxBatchEvents: 10 });
      const sandbox = { orgId: orgId(), sandboxId: 'sbx-5', shape: 'small' };
      usage.sandboxStarted(sandbox);
      expect(await usage.flush()).toBe(true);
      broker.freeze();
      for (let i = 0; i < 30; i++) usage.heartbeat({ ...sandbox, runtimeMs: 1_000 });
      expect(await usage.flush(1_000)).toBe(false);
      broker.thaw();
      expect(await usage.flush(60_000)).toBe(true);
      const seen = await consumeAll(kafka, topics(), 31, `${ctx.topicPrefix}c2`);
      expect(seen.map((e) => sandboxUsageEvent.parse(e.value).data.sequence)).toEqual([...Array(31).keys()]);
    } finally {
      await broker.dispose();
    }
  });
});
