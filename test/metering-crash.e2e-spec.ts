import { createDataSource } from '@tally/database';
import { createKafka } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { createTestContext, expectEventually, freePort, TestContext } from '@tally/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { nonZero, postedCosts, processedCount, publishAll, seededRandom, seedOrgs, workload } from './metering-harness';
import { reconcile } from './apps';

/**
 * Crash safety: metering runs as a real process (from dist) and is killed with SIGKILL at seeded
 * random moments while it posts, then restarted; the final ledger equals the expected totals
 * exactly. Full run (the numbers) is the default: METERING_CRASH_EVENTS=20000,
 * METERING_CRASH_KILLS=5.
 */
const EVENTS = Number(process.env.METERING_CRASH_EVENTS ?? 20_000);
const KILLS = Number(process.env.METERING_CRASH_KILLS ?? 5);
const ROOT = resolve(__dirname, '..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const MAIN = resolve(ROOT, 'dist/apps/metering/src/main.js');

describe('metering: SIGKILL at random moments', () => {
  jest.setTimeout(600_000);
  let ctx: TestContext;
  let db: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let redis: RedisClient;
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    const env = ctx.env({
      PORT: String(await freePort()),
      EXPIRY_INTERVAL_MS: '0',
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'warn',
    });
    child = spawn(NODE, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
    child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
    return child;
  };
  const exited = (proc: ChildProcess) =>
    new Promise<number | null>((done) => (proc.exitCode !== null ? done(proc.exitCode) : proc.once('exit', done)));

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    kafka = createKafka('metering-crash-test', [ctx.kafkaBrokers]);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    redis = createRedis({ url: ctx.redisUrl });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await producer?.disconnect();
    redis?.disconnect();
    await db?.destroy();
    await ctx?.dispose();
  });

  it(`posts ${EVENTS} events exactly once across ${KILLS} SIGKILLs`, async () => {
    // Topics come from the first start; small packages so overage is exercised too.
    const orgIds = await seedOrgs(db, 50, 360_000_000n, 2_000_000n);
    const { events, expected } = workload(ctx.topicPrefix, orgIds, EVENTS, 2026);
    const random = seededRandom(1234);
    const parts = KILLS + 1;
    const size = Math.ceil(events.length / parts);
    const kills: { at: number; processed: number }[] = [];

    for (let k = 0; k < KILLS; k++) {
      const proc = await start();
      const before = await processedCount(db);
      await publishAll(producer, events.slice(k * size, (k + 1) * size));
      // Kill once a seeded random share of this part has been posted: mid-stream, by construction.
      const target = before + Math.max(1, Math.floor(random() * size * 0.9));
      await expectEventually(
        async () => {
          if (proc.exitCode !== null) throw new Error(`metering exited early (${proc.exitCode}): ${output}`);
          expect(await processedCount(db)).toBeGreaterThanOrEqual(target);
        },
        120_000,
        10,
      );
      proc.kill('SIGKILL');
      expect(await exited(proc)).toBeNull();
      kills.push({ at: target, processed: await processedCount(db) });
    }
    expect(kills).toHaveLength(KILLS);

    const last = await start();
    await publishAll(producer, events.slice(KILLS * size));
    await expectEventually(async () => expect(await processedCount(db)).toBe(EVENTS), 180_000, 250);
    expect(await postedCosts(db)).toEqual(nonZero(expected));
    await expectEventually(async () => {
      const [{ n }] = await db.query('SELECT COUNT(*)::int AS n FROM outbox');
      expect(n).toBe(0);
    }, 60_000);
    await expectEventually(async () => {
      const report = await reconcile(db, redis, new BalanceCache(redis, ctx.redisPrefix));
      expect({ invariant: report.invariant, drift: report.drift.length }).toEqual({ invariant: [], drift: 0 });
    }, 30_000);
    const [{ n }] = await db.query('SELECT SUM(event_count)::int AS n FROM usage_rollups');
    expect(n).toBe(EVENTS);

    last.kill('SIGTERM');
    expect(await exited(last)).toBe(0);
  });
});
