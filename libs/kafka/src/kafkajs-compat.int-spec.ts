import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { Kafka, logLevel } from 'kafkajs';
import { EventPublisher } from './event-publisher';
import { ensureTopics } from './topics';

/**
 * kafkajs 2.2.4 predates Kafka 4, which removed old protocol versions (KIP-896). This proves the
 * calls Tally relies on work against the broker we pin (scripts/kafka.sh): topic admin, the
 * idempotent producer, group consumption with eachBatch and manual commits, rebalancing.
 */
describe('kafkajs against the pinned broker', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let kafka: Kafka;
  let topic: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    kafka = new Kafka({ clientId: 'compat', brokers: [ctx.kafkaBrokers], logLevel: logLevel.NOTHING });
    topic = `${ctx.topicPrefix}compat`;
    await ensureTopics(kafka, [topic], 3);
  });
  afterAll(() => ctx.dispose());

  it('creates topics and reads their metadata', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const cluster = await admin.describeCluster();
    await admin.disconnect();
    expect(topics[0].partitions).toHaveLength(3);
    expect(cluster.brokers.length).toBeGreaterThan(0);
  });

  it('produces idempotently, consumes in a group with manual commits, and resumes from the commit', async () => {
    const publisher = new EventPublisher(kafka);
    const orgs = ['ORG-A', 'ORG-B', 'ORG-C', 'ORG-D'];
    await publisher.publish(...Array.from({ length: 100 }, (_, i) => ({ topic, key: orgs[i % 4], value: { n: i } })));

    const groupId = `${ctx.topicPrefix}compat-group`;
    const seen: number[] = [];
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const message of batch.messages) seen.push(JSON.parse(message.value!.toString()).n);
        const last = batch.messages[batch.messages.length - 1].offset;
        resolveOffset(last);
        await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      },
    });
    await expectEventually(() => expect(seen).toHaveLength(100), 30_000);
    await consumer.disconnect();
    expect(new Set(seen).size).toBe(100);

    const admin = kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    await admin.disconnect();
    expect(offsets.partitions.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(100);

    // A new member of the group starts from the committed offsets: nothing is redelivered.
    await publisher.publish({ topic, key: 'ORG-A', value: { n: 100 } });
    const after: number[] = [];
    const second = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await second.connect();
    await second.subscribe({ topic, fromBeginning: true });
    await second.run({ eachMessage: async ({ message }) => void after.push(JSON.parse(message.value!.toString()).n) });
    await expectEventually(() => expect(after).toEqual([100]), 30_000);
    await second.disconnect();
    await publisher.disconnect();
  });

  it('shares partitions between two members of one group', async () => {
    const groupId = `${ctx.topicPrefix}compat-rebalance`;
    const assigned: Record<string, number[]> = { a: [], b: [] };
    const members = ['a', 'b'].map((name) => {
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        assigned[name] = payload.memberAssignment[topic] ?? [];
      });
      return consumer;
    });
    for (const member of members) {
      await member.connect();
      await member.subscribe({ topic, fromBeginning: true });
      await member.run({ eachMessage: async () => undefined });
    }
    await expectEventually(() => expect([...assigned.a, ...assigned.b].sort()).toEqual([0, 1, 2]), 45_000, 200);
    expect(assigned.a.length).toBeGreaterThan(0);
    expect(assigned.b.length).toBeGreaterThan(0);
    for (const member of members) await member.disconnect();
  });
});
