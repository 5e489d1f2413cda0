import { Topics, topicName } from '@tally/contracts';
import { createDataSource, runMigrations } from '@tally/database';
import { createKafka } from '@tally/kafka';
import {
  createTestContext,
  expectEventually,
  PrivatePostgres,
  startPrivatePostgres,
  TestContext,
} from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import {
  groupCaughtUp,
  nonZero,
  postedCosts,
  processedCount,
  publishAll,
  seedOrgs,
  workload,
} from './metering-harness';
import { appUrl, startApp } from './apps';

/**
 * PostgreSQL down mid-run is a transient failure: metering holds its partitions, commits no
 * offset, does not crash, and resumes by itself when PostgreSQL is back, with exact totals. Uses
 * its own PostgreSQL cluster (initdb + pg_ctl on a spare port), never the shared one.
 */
describe('metering: PostgreSQL outage', () => {
  jest.setTimeout(180_000);
  let pg: PrivatePostgres;
  let ctx: TestContext;
  let app: NestFastifyApplication;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    ctx = await createTestContext();
    const { url } = pg;
    db = await createDataSource({ url, poolSize: 2 }).initialize();
    await runMigrations(db);
    app = await startApp(
      'metering',
      ctx.env({ DATABASE_URL: url, EXPIRY_INTERVAL_MS: '0', CONSUMER_MAX_BACKOFF_MS: '1000' }),
    );
    kafka = createKafka('metering-postgres-test', [ctx.kafkaBrokers]);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await producer?.disconnect();
    await db?.destroy().catch(() => undefined);
    pg?.dispose();
    await ctx?.dispose();
  });

  it('holds its partitions without committing while PostgreSQL is down, and resumes by itself', async () => {
    const orgIds = await seedOrgs(db, 30, 360_000_000n, 5_000_000n);
    const first = workload(ctx.topicPrefix, orgIds, 1_000, 1);
    const second = workload(ctx.topicPrefix, orgIds, 2_000, 2);
    await publishAll(producer, first.events);
    await expectEventually(async () => expect(await processedCount(db)).toBe(1_000), 60_000, 100);

    pg.stop();
    await publishAll(producer, second.events);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the outage itself lasts a fixed time
    const topics = [Topics.actionVerified, Topics.usageSandbox, Topics.usageAgent].map((t) =>
      topicName(ctx.topicPrefix, t),
    );
    expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics)).toBe(false);
    expect((await fetch(`${appUrl(app)}/health/live`)).status).toBe(200);

    pg.start();
    await expectEventually(async () => expect(await processedCount(db)).toBe(3_000), 90_000, 250);
    await expectEventually(
      async () => expect(await groupCaughtUp(kafka, `${ctx.topicPrefix}metering.ledger`, topics)).toBe(true),
      60_000,
      250,
    );
    const expected = new Map(first.expected);
    for (const [key, value] of second.expected) expected.set(key, (expected.get(key) ?? 0n) + value);
    expect(await postedCosts(db)).toEqual(nonZero(expected));
  });
});
