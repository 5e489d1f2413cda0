import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { Kafka, logLevel } from 'kafkajs';
import { EventPublisher } from './event-publisher';
import { ensureTopics } from './topics';

/**
 * One publish can put more on one partition than the broker accepts in a record batch
 * (`message.max.bytes`, 1 MiB by default): a ledger batch of one organization, or of orgs that
 * share a partition, relayed from the outbox. The publisher splits it into requests the broker
 * takes, in order.
 */
describe('EventPublisher', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let kafka: Kafka;

  beforeAll(async () => {
    ctx = await createTestContext();
    kafka = new Kafka({ clientId: 'publisher', brokers: [ctx.kafkaBrokers], logLevel: logLevel.NOTHING });
  });
  afterAll(() => ctx.dispose());

  it('publishes 3 MiB for one key (one partition) in order', async () => {
    const topic = `${ctx.topicPrefix}publisher`;
    await ensureTopics(kafka, [topic], 3);
    const publisher = new EventPublisher(kafka);
    const padding = 'x'.repeat(500);
    const count = 6_000;
    await publisher.publish(
      ...Array.from({ length: count }, (_, n) => ({ topic, key: 'ORG-ONE', value: { n, padding } })),
    );
    await publisher.disconnect();

    const seen: number[] = [];
    const consumer = kafka.consumer({ groupId: `${ctx.topicPrefix}publisher-check`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(JSON.parse(message.value!.toString()).n);
      },
    });
    await expectEventually(() => expect(seen).toHaveLength(count), 30_000);
    await consumer.disconnect();
    expect(seen).toEqual(Array.from({ length: count }, (_, n) => n));
  });
});
