import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { VerifyClient } from '@tally/api-key-guard';
import {
  admissionIdFor,
  AuthTimeouts,
  admissionVoided,
  cloudEvent,
  DEFAULT_KEY_PREFIX,
  EventTypes,
  Topics,
  topicName,
  verifiedEventIdFor,
  VoidReasons,
} from '@tally/contracts';
import { DemoOrganization, seedDemoOrganization } from '@tally/database';
import { createKafka, ensureTopics, EventPublisher } from '@tally/kafka';
import { balanceKeys } from '@tally/redis';
import { createTestContext, expectEventually, PrivateKafka, startPrivateKafka, TestContext } from '@tally/testing';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { appUrl, startApp } from './apps';
import { authEnv, call, openDatabase, quotaEnv, service, SERVICE_TOKEN, verify } from './auth-harness';

/**
 * Every admission has exactly one fate (issue 10, items 1-3), end to end through auth, quota and
 * metering on a Kafka of this file's own (frozen with SIGSTOP where a stall is needed):
 * - a metered action refused after its event may have been written bills nothing (voided);
 * - a gateway retry with the same Idempotency-Key replays the first decision (one hold), and a
 *   gateway that gave up first is billed nothing;
 * - releasing an admission reaches the ledger: the durable hold is released, and a void that
 *   arrives before its verified event makes that event bill nothing.
 */
/**
 * A fresh broker creates its offsets topic on the first group join, and a loaded machine can take
 * longer than kafkajs' retries allow (metering's consumer would crash and exit): join once first.
 */
async function groupCoordinatorReady(brokers: string): Promise<void> {
  const kafka = createKafka('admission-fates-warm-up', [brokers]);
  await ensureTopics(kafka, ['warm-up'], 1);
  await expectEventually(async () => {
    const consumer = kafka.consumer({ groupId: 'warm-up' });
    try {
      const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
      await consumer.connect();
      await consumer.subscribe({ topics: ['warm-up'] });
      await consumer.run({ eachMessage: async () => undefined });
      await Promise.race([joined, new Promise((_, reject) => setTimeout(() => reject(new Error('no join')), 30_000))]);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }, 150_000);
}

describe('admission fates', () => {
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let kafka: PrivateKafka;
  let db: DataSource;
  let redis: Redis;
  const apps: NestFastifyApplication[] = [];
  let authUrl: string;
  let quotaUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    kafka = await startPrivateKafka();
    db = await openDatabase(ctx);
    redis = new Redis(ctx.redisUrl);
    await groupCoordinatorReady(kafka.brokers);
    const onKafka = { KAFKA_BROKERS: kafka.brokers };
    // The test writes to the void topic itself (item 3, void first), whoever else creates it.
    await ensureTopics(
      createKafka('admission-fates-setup', [kafka.brokers]),
      [topicName(ctx.topicPrefix, Topics.admissionVoided)],
      12,
    );
    const quota = await startApp(
      'quota',
      ctx.env({ ...onKafka, ADMISSION_TIMEOUT_MS: '3000', REDIS_TIMEOUT_MS: '2000' }),
    );
    apps.push(quota);
    quotaUrl = appUrl(quota);
    apps.push(await startApp('metering', ctx.env(onKafka)));
    const auth = await startApp('auth', {
      ...authEnv(ctx),
      ...onKafka,
      ...quotaEnv(quotaUrl),
      QUOTA_TIMEOUT_MS: '3000',
      EVENT_ACK_TIMEOUT_MS: '1500',
    });
    apps.push(auth);
    authUrl = appUrl(auth);
  });

  afterAll(async () => {
    kafka?.thaw();
    for (const app of apps) await app.close();
    redis?.disconnect();
    await db?.destroy();
    await kafka?.dispose();
    await ctx?.dispose();
  });

  const newOrg = (): Promise<DemoOrganization> =>
    seedDemoOrganization(db, {
      keyPrefix: DEFAULT_KEY_PREFIX,
      pepper: authEnv(ctx).API_KEY_PEPPER,
      sandboxMs: 36_000_000n,
      agentMc: 10_000n,
    });
  const createSandbox = (org: DemoOrganization, headers: Record<string, string> = {}, sandboxId?: string) =>
    verify(
      authUrl,
      {
        key: org.apiKey,
        action: 'sandbox.create',
        orgId: org.orgId,
        resource: { type: 'sandbox', id: sandboxId ?? `SBX-${headers['idempotency-key'] ?? ulid()}` },
        params: { shape: 'small', maxLifeSeconds: 3600 },
      },
      { ...service, ...headers },
    );
  const agentRun = (org: DemoOrganization) =>
    verify(authUrl, { key: org.apiKey, action: 'agent.run', orgId: org.orgId });
  const activeHolds = async (orgId: string) =>
    (await db.query(`SELECT sandbox_id FROM holds WHERE org_id = $1 AND status = 'active'`, [orgId])).length;
  const agentDebited = async (orgId: string) => {
    const [row] = await db.query(
      `SELECT COALESCE(SUM(amount), 0)::text AS net FROM ledger_entries WHERE org_id = $1 AND kind = 'agent' AND entry_type <> 'grant'`,
      [orgId],
    );
    return row.net as string;
  };
  /**
   * An agent.run after the stall, on the same partition and the same producer: once its own debit
   * is in the ledger, metering has posted whatever auth wrote before it.
   */
  const sentinel = async (org: DemoOrganization) => {
    const answer = await expectEventually(async () => {
      const allowed = await agentRun(org);
      expect(allowed.status).toBe(200);
      return allowed;
    }, 30_000);
    await expectEventually(async () => {
      const rows = await db.query('SELECT 1 FROM ledger_entries WHERE org_id = $1 AND event_id = $2', [
        org.orgId,
        answer.body.eventId,
      ]);
      expect(rows.length).toBeGreaterThan(0);
    }, 60_000);
  };
  const fateOf = async (orgId: string, admissionId: string) =>
    (
      await db.query(`SELECT fate FROM admission_fates WHERE org_id = $1 AND admission_id = $2`, [orgId, admissionId])
    )[0]?.fate;

  /** Freezes Kafka for `work`, thawing after `thawAfterMs` (while the event is still in flight). */
  async function duringStall<T>(work: () => Promise<T>, thawAfterMs: number): Promise<T> {
    kafka.freeze();
    const thaw = setTimeout(() => kafka.thaw(), thawAfterMs);
    try {
      return await work();
    } finally {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, thawAfterMs)));
      clearTimeout(thaw);
      kafka.thaw();
    }
  }

  it('item 1: a metered action refused after its event may have been written bills nothing (voided)', async () => {
    const org = await newOrg();
    const idempotencyKey = 'refused-after-publish';
    const refused = await duringStall(() => createSandbox(org, { 'idempotency-key': idempotencyKey }), 2_500);
    expect(refused).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });
    // The producer delivered the event once Kafka thawed: metering must not hold for it.
    await sentinel(org);
    await expectEventually(async () => {
      expect(await activeHolds(org.orgId)).toBe(0);
      expect(await fateOf(org.orgId, admissionIdFor(org.orgId, idempotencyKey))).toBe('voided');
      expect(await redis.hget(balanceKeys(ctx.redisPrefix, org.orgId).balance, 'held_ms')).toBe('0');
    }, 60_000);
  });

  it('item 2: a gateway retry with the same Idempotency-Key replays the first decision: one admission, one hold', async () => {
    const org = await newOrg();
    const headers = { 'idempotency-key': 'gateway-retry-1' };
    const first = await createSandbox(org, headers);
    const retry = await createSandbox(org, headers);
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ admissionId: first.body.admissionId, eventId: first.body.eventId });
    expect(first.body.admissionId).toBe(admissionIdFor(org.orgId, 'gateway-retry-1'));
    expect(first.body.eventId).toBe(verifiedEventIdFor(org.orgId, 'gateway-retry-1'));
    await sentinel(org);
    await expectEventually(async () => {
      expect(await activeHolds(org.orgId)).toBe(1);
      expect(await redis.hget(balanceKeys(ctx.redisPrefix, org.orgId).balance, 'held_ms')).toBe('3600000');
      expect(['0', null]).toContain(await redis.get(balanceKeys(ctx.redisPrefix, org.orgId).provisionalTotal));
    }, 60_000);
    expect(await fateOf(org.orgId, first.body.admissionId as string)).toBe('settled');
  });

  it('item 2: a gateway that gives up first is billed nothing (its deadline travels with the call)', async () => {
    const org = await newOrg();
    const guard = new VerifyClient({ authUrl, serviceToken: SERVICE_TOKEN, timeoutMs: 1_000 });
    const gaveUp = await duringStall(
      () => guard.verify({ key: org.apiKey, action: 'agent.run', orgId: org.orgId }).catch((error: unknown) => error),
      2_500,
    );
    expect(gaveUp).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
    await sentinel(org);
    // Only the sentinel's credit: the run whose caller gave up is not billed (or reversed).
    await expectEventually(async () => expect(await agentDebited(org.orgId)).toBe('-1000'), 60_000);
  });

  it("item 2: the guard's default timeout covers auth's worst case (Kafka ack + quota + margin)", () => {
    const guard = new VerifyClient({ authUrl, serviceToken: SERVICE_TOKEN });
    // Auth's defaults (AuthTimeouts), whatever they are.
    expect(guard.timeoutMs).toBeGreaterThan(AuthTimeouts.eventAckMs + AuthTimeouts.quotaMs);
    const tuned = new VerifyClient({
      authUrl,
      serviceToken: SERVICE_TOKEN,
      authEventAckTimeoutMs: 1_500,
      authQuotaTimeoutMs: 3_000,
    });
    expect(tuned.timeoutMs).toBeGreaterThan(1_500 + 3_000);
  });

  it('item 3: releasing an admission releases the durable hold in the ledger', async () => {
    const org = await newOrg();
    const allowed = await createSandbox(org, { 'idempotency-key': 'boot-failed' });
    expect(allowed.status).toBe(200);
    const admissionId = allowed.body.admissionId as string;
    await expectEventually(async () => expect(await activeHolds(org.orgId)).toBe(1), 60_000);

    const released = await call(quotaUrl, 'DELETE', `/v1/admissions/${admissionId}?orgId=${org.orgId}`, {
      headers: service,
    });
    expect(released.status).toBe(200);
    await expectEventually(async () => {
      expect(await activeHolds(org.orgId)).toBe(0);
      expect(await redis.hget(balanceKeys(ctx.redisPrefix, org.orgId).balance, 'held_ms')).toBe('0');
      expect(await fateOf(org.orgId, admissionId)).toBe('voided');
    }, 60_000);
  });

  it('item 3: releasing a second create of a live sandbox leaves that sandbox held', async () => {
    const org = await newOrg();
    const first = await createSandbox(org, { 'idempotency-key': 'live-1' }, 'SBX-LIVE');
    expect(first.status).toBe(200);
    await expectEventually(async () => expect(await activeHolds(org.orgId)).toBe(1), 60_000);
    const again = await createSandbox(org, { 'idempotency-key': 'live-2' }, 'SBX-LIVE');
    expect(again.status).toBe(200);
    const admissionId = again.body.admissionId as string;
    await expectEventually(async () => expect(await fateOf(org.orgId, admissionId)).toBe('settled'), 60_000);
    const released = await call(quotaUrl, 'DELETE', `/v1/admissions/${admissionId}?orgId=${org.orgId}`, {
      headers: service,
    });
    expect(released.status).toBe(200);
    await expectEventually(async () => expect(await fateOf(org.orgId, admissionId)).toBe('voided'), 60_000);
    expect(await activeHolds(org.orgId)).toBe(1);
    expect(await redis.hget(balanceKeys(ctx.redisPrefix, org.orgId).balance, 'held_ms')).toBe('3600000');
  });

  it('item 3: a void that arrives before its verified event makes that event bill nothing', async () => {
    const org = await newOrg();
    const admissionId = admissionIdFor(org.orgId, 'void-first');
    const publisher = new EventPublisher(createKafka('admission-fates-test', [kafka.brokers]));
    try {
      await publisher.publish({
        topic: topicName(ctx.topicPrefix, Topics.admissionVoided),
        key: org.orgId,
        value: admissionVoided('//test/quota', { orgId: org.orgId, admissionId, reason: VoidReasons.released }),
      });
      await publisher.publish({
        topic: topicName(ctx.topicPrefix, Topics.actionVerified),
        key: org.orgId,
        value: cloudEvent({
          id: verifiedEventIdFor(org.orgId, 'void-first'),
          source: '//test/auth',
          type: EventTypes.actionVerified,
          subject: org.orgId,
          data: {
            orgId: org.orgId,
            keyId: org.keyId,
            userId: org.userId,
            action: 'agent.run',
            resource: null,
            params: {},
            admissionId,
          },
        }),
      });
    } finally {
      await publisher.disconnect();
    }
    await sentinel(org);
    await expectEventually(async () => {
      expect(await agentDebited(org.orgId)).toBe('-1000');
      expect(await fateOf(org.orgId, admissionId)).toBe('voided');
    }, 60_000);
  });
});
