/* The model check: `npm run check:model -- --seed S --events N [--seeds K] [--keep] [--no-sequence-resends]` (after a build).
 *
 * For each seed S..S+K-1: a seeded workload (scripts/model-reference.ts) of orgs, grants through
 * metering's packages API, verified actions, runtime reports, agent usage and voids is delivered
 * to a real metering process with faults (duplicate deliveries and gateway retries under the same
 * id, topics interleaved at random, poison events, metering SIGKILLed mid-run and this run's
 * Redis keys deleted, then restarted; unless --no-sequence-resends, runtime reports re-sent under a new
 * id), and once drained the ledger, packages, admission fates,
 * holds, DLQs and Redis are compared with the reference model. Exit 1 with the differences.
 *
 * Isolated like a test file: its own database (migrated), topic prefix and Redis key prefix,
 * dropped at the end (--keep leaves them). Services: DATABASE_URL (the server: a database is
 * created next to it), REDIS_URL, KAFKA_BROKERS; defaults are this machine's. */
import { cloudEvent, deadLetterTopic, EventTypes, Topics, topicName, UsageEventTypes } from '@tally/contracts';
import { createDataSource, runMigrations } from '@tally/database';
import { createKafka, deleteTopicsWithPrefix } from '@tally/kafka';
import { BalanceCache, createRedis, type RedisClient } from '@tally/redis';
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { reconcile } from '../apps/metering/src/reconcile/reconcile';
import {
  Delivery,
  Expected,
  generate,
  Input,
  reference,
  RESENT,
  seededRandom,
  TopicKey,
  Workload,
} from './model-reference';

const ROOT = resolve(__dirname, '../..');
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const SERVICE_TOKEN = 'model-check-service-token';
const TOPIC: Record<TopicKey, string> = {
  verified: Topics.actionVerified,
  sandbox: Topics.usageSandbox,
  agent: Topics.usageAgent,
  voided: Topics.admissionVoided,
};
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

interface Options {
  seed: number;
  seeds: number;
  events: number;
  keep: boolean;
  drainTimeoutMs: number;
  sequenceResends: boolean;
}

function parseArgs(argv: string[]): Options {
  const num = (name: string, fallback: number) => {
    const i = argv.indexOf(`--${name}`);
    const n = Number(i >= 0 ? argv[i + 1] : fallback);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
    return n;
  };
  return {
    seed: num('seed', 1),
    seeds: Math.max(1, num('seeds', 1)),
    events: Math.max(1, num('events', 200)),
    keep: argv.includes('--keep'),
    sequenceResends: !argv.includes('--no-sequence-resends'),
    drainTimeoutMs: num('drain-timeout-ms', 120_000),
  };
}

interface Context {
  id: string;
  db: DataSource;
  serverUrl: string;
  database: string;
  databaseUrl: string;
  redisUrl: string;
  brokers: string;
  topicPrefix: string;
  redisPrefix: string;
  kafka: Kafka;
  producer: Producer;
  redis: RedisClient;
}

/** The same isolation as libs/testing's createTestContext: a migrated database, prefixes of its own. */
async function createContext(): Promise<Context> {
  const id = ulid().toLowerCase();
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/tally_test';
  const database = `tally_model_${id}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`).finally(() => admin.end());
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();
  const db = await createDataSource({ url: databaseUrl, poolSize: 3 }).initialize();
  await runMigrations(db);
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const kafka = createKafka('model-check', [brokers]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = createRedis({ url: redisUrl });
  const prefixes = { topicPrefix: `m${id}.`, redisPrefix: `m${id}:` };
  return { id, db, serverUrl, database, databaseUrl, redisUrl, brokers, ...prefixes, kafka, producer, redis };
}

/** "Redis loss" for this run only: its prefixed keys are deleted (the shared Redis is never flushed). */
async function deleteRedisKeys(ctx: Context): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${ctx.redisPrefix}*`, 'COUNT', 1000);
    if (keys.length) deleted += await ctx.redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

async function disposeContext(ctx: Context, keep: boolean): Promise<void> {
  await ctx.producer.disconnect().catch(() => undefined);
  if (!keep) {
    await deleteTopicsWithPrefix(ctx.kafka, ctx.topicPrefix).catch(() => undefined);
    await deleteRedisKeys(ctx).catch(() => undefined);
  }
  ctx.redis.disconnect();
  await ctx.db.destroy();
  if (keep) return;
  const admin = new Client({ connectionString: ctx.serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${ctx.database}" WITH (FORCE)`).catch(() => undefined);
  await admin.end();
}

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });

/** Metering as a real process (the built entry), killed with SIGKILL and restarted at will. */
class Metering {
  private child: ChildProcess | undefined;
  private output = '';
  url = '';

  constructor(private readonly ctx: Context) {}

  async start(): Promise<void> {
    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: this.ctx.databaseUrl,
      REDIS_URL: this.ctx.redisUrl,
      KAFKA_BROKERS: this.ctx.brokers,
      KAFKA_TOPIC_PREFIX: this.ctx.topicPrefix,
      REDIS_KEY_PREFIX: this.ctx.redisPrefix,
      SERVICE_TOKENS: SERVICE_TOKEN,
      TALLY_ENV: 'development', // a short credential
      LOG_LEVEL: process.env.MODEL_LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      EXPIRY_INTERVAL_MS: '1000',
      // Expiring packages end 3 s into a seed: forfeited 1 s later, within the drain.
      EXPIRY_LATENESS_SECONDS: '1',
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };
    const child = spawn(process.execPath, [resolve(ROOT, 'dist/apps/metering/src/main.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.url = `http://127.0.0.1:${port}`;
    await this.ready();
  }

  private async ready(): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      this.alive();
      const answer = await fetch(`${this.url}/health/ready`).catch(() => null);
      if (answer?.ok) return;
      await sleep(250);
    }
    throw new Error(`metering not ready within 120 s:\n${this.output}`);
  }

  /** Metering's last log lines (warnings and errors at the default level): printed with a failed seed. */
  recentLog(lines: number): string[] {
    return this.output.trim().split('\n').slice(-lines);
  }

  alive(): void {
    if (this.child?.exitCode !== null) throw new Error(`metering exited (${this.child?.exitCode}):\n${this.output}`);
  }

  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill(signal);
    await exited;
  }
}

/** Grants through metering's packages API, the path billing uses. */
async function grant(metering: Metering, workload: Workload, start: number): Promise<void> {
  const at = (seconds: number | null) => (seconds === null ? null : new Date(start + seconds * 1000).toISOString());
  for (const g of workload.grants) {
    const answer = await fetch(`${metering.url}/v1/orgs/${g.orgId}/packages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-service-token': SERVICE_TOKEN },
      body: JSON.stringify({
        sandboxHours: g.sandboxHours,
        agentCredits: g.agentCredits,
        priority: g.priority,
        notBefore: at(g.notBeforeIn),
        notAfter: at(g.notAfterIn),
        source: 'model-check',
        externalId: g.externalId,
      }),
    });
    if (answer.status !== 201) throw new Error(`grant ${g.externalId}: ${answer.status} ${await answer.text()}`);
  }
}

const SOURCES: Record<TopicKey, string> = {
  verified: '//tally/auth',
  sandbox: '//model/sandbox-runtime',
  agent: '//model/agent-runtime',
  voided: '//tally/quota',
};

/** The CloudEvent of an accepted input (the same id every time it is delivered). */
function cloudEventOf(input: Input) {
  const base = { id: input.id, source: SOURCES[input.topic], subject: input.orgId };
  const { orgId } = input;
  switch (input.topic) {
    case 'agent':
      return cloudEvent({
        ...base,
        type: UsageEventTypes.agentConsumed,
        data: { orgId, runId: input.runId, credits: input.credits, kind: 'inference' },
      });
    case 'sandbox': {
      const { sandboxId, shape, runtimeMs, sequence } = input;
      return cloudEvent({ ...base, type: input.type, data: { orgId, sandboxId, shape, runtimeMs, sequence } });
    }
    case 'voided':
      return cloudEvent({
        ...base,
        type: EventTypes.admissionVoided,
        data: { orgId, admissionId: input.admissionId, reason: 'released' },
      });
    case 'verified':
      return cloudEvent({ ...base, type: EventTypes.actionVerified, data: verifiedData(input) });
  }
}

function verifiedData(input: Extract<Input, { topic: 'verified' }>) {
  const common = { orgId: input.orgId, keyId: 'model-key', userId: 'model-user', action: input.action };
  if (input.action === 'agent.run') return { ...common, resource: null, params: {}, admissionId: input.admissionId };
  const params =
    input.action === 'sandbox.create'
      ? { shape: input.shape, maxLifeSeconds: input.seconds }
      : input.action === 'sandbox.extend'
        ? { extendSeconds: input.seconds }
        : {};
  return { ...common, resource: { type: 'sandbox', id: input.sandboxId }, params, admissionId: input.admissionId };
}

/** Sends deliveries in order (order within a topic is kept; topics are consumed independently). */
async function deliver(ctx: Context, deliveries: Delivery[]): Promise<void> {
  for (let i = 0; i < deliveries.length; i += 50) {
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const d of deliveries.slice(i, i + 50)) {
      const topic = topicName(ctx.topicPrefix, TOPIC['input' in d ? d.input.topic : d.poison.topic]);
      const message = 'input' in d ? { key: d.input.orgId, value: JSON.stringify(cloudEventOf(d.input)) } : d.poison;
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), { key: message.key, value: message.value }]);
    }
    await ctx.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }
}

async function processedOf(ctx: Context, seed: number): Promise<number> {
  const [row]: { n: number }[] = await ctx.db.query(
    `SELECT COUNT(*)::int AS n FROM processed_events WHERE id LIKE $1`,
    [`m${seed}-%`],
  );
  return row.n;
}

/** Delivers the workload in two halves, SIGKILLing metering mid-way and deleting this run's Redis keys. */
async function drive(ctx: Context, metering: Metering, seed: number, workload: Workload): Promise<void> {
  const random = seededRandom(seed ^ 0x5eed);
  const half = Math.ceil(workload.deliveries.length / 2);
  const first = workload.deliveries.slice(0, half);
  await deliver(ctx, first);
  const distinct = new Set(first.flatMap((d) => ('input' in d && !d.input.id.endsWith(RESENT) ? [d.input.id] : [])))
    .size;
  const target = Math.max(1, Math.floor(random() * distinct * 0.9));
  const deadline = Date.now() + 120_000;
  while ((await processedOf(ctx, seed)) < target) {
    metering.alive();
    if (Date.now() > deadline) throw new Error(`metering posted fewer than ${target} events in 120 s`);
    await sleep(20);
  }
  await metering.kill('SIGKILL');
  await deleteRedisKeys(ctx);
  await metering.start();
  await deliver(ctx, workload.deliveries.slice(half));
}

export interface SeedResult {
  seed: number;
  events: number;
  deliveries: number;
  ms: number;
  diffs: string[];
}

async function runSeed(ctx: Context, metering: Metering, seed: number, options: Options): Promise<SeedResult> {
  const started = Date.now();
  const workload = generate(seed, options.events, () => `ORG-${ulid()}`, options);
  const orgIds = workload.orgs.map((o) => o.orgId);
  await ctx.db.query(
    `INSERT INTO organizations (id, name) SELECT id, 'model org' FROM unnest($1::varchar[]) AS t(id)`,
    [orgIds],
  );
  await grant(metering, workload, started);
  await drive(ctx, metering, seed, workload);
  const expected = reference(workload);
  // Expiring packages end 3 s after the start; the expiry job forfeits them after that.
  let diffs: string[];
  const deadline = Date.now() + options.drainTimeoutMs;
  do {
    metering.alive();
    diffs = await compare(ctx, workload, expected);
    if (diffs.length === 0) break;
    await sleep(500);
  } while (Date.now() < deadline);
  diffs.push(...(await deadLetters(ctx, seed, workload)));
  return {
    seed,
    events: workload.inputs.length,
    deliveries: workload.deliveries.length,
    ms: Date.now() - started,
    diffs,
  };
}

/** Every difference between the stores and the reference, as readable lines (none: equal). */
async function compare(ctx: Context, workload: Workload, expected: Expected): Promise<string[]> {
  const orgIds = workload.orgs.map((o) => o.orgId);
  const diffs: string[] = [];
  const expect = (what: string, actual: unknown, wanted: unknown) => {
    if (String(actual) !== String(wanted)) diffs.push(`${what}: expected ${String(wanted)}, got ${String(actual)}`);
  };
  const ledger: { org_id: string; kind: string; cost: string; overage: string; forfeit: string }[] = await ctx.db.query(
    `SELECT o.id AS org_id, k.kind,
            (-COALESCE(SUM(l.amount) FILTER (WHERE l.entry_type IN ('debit', 'overage', 'reversal')), 0))::text AS cost,
            (-COALESCE(SUM(l.amount) FILTER (WHERE l.entry_type = 'overage' OR (l.entry_type = 'reversal' AND l.package_id IS NULL)), 0))::text AS overage,
            (-COALESCE(SUM(l.amount) FILTER (WHERE l.entry_type = 'forfeit'), 0))::text AS forfeit
       FROM unnest($1::varchar[]) AS o(id) CROSS JOIN (VALUES ('sandbox'), ('agent')) AS k(kind)
       LEFT JOIN ledger_entries l ON l.org_id = o.id AND l.kind = k.kind
      GROUP BY o.id, k.kind`,
    [orgIds],
  );
  for (const row of ledger) {
    const key = `${row.org_id}|${row.kind}`;
    expect(`cost ${key}`, row.cost, expected.cost.get(key) ?? 0n);
    expect(`overage ${key}`, row.overage, expected.overage.get(key) ?? 0n);
    expect(`forfeit ${key}`, row.forfeit, expected.forfeit.get(key) ?? 0n);
  }
  const packages: { org_id: string; external_id: string; sandbox: string; agent: string }[] = await ctx.db.query(
    `SELECT org_id, external_id, sandbox_ms_remaining::text AS sandbox, agent_mc_remaining::text AS agent
       FROM packages WHERE org_id = ANY($1)`,
    [orgIds],
  );
  for (const p of packages) {
    for (const kind of ['sandbox', 'agent'] as const) {
      const key = `${p.org_id}|${p.external_id}|${kind}`;
      expect(`remaining ${key}`, p[kind], expected.remaining.get(key) ?? 'no such package');
    }
  }
  expect('packages', packages.length, workload.grants.length);
  diffs.push(...(await compareFates(ctx, workload, expected)));
  diffs.push(...(await compareHolds(ctx, orgIds, expected)));
  diffs.push(...(await compareBalances(ctx, orgIds)));
  return diffs;
}

/** One fate per admission, the expected one, and a ledger that agrees (a voided run nets to zero). */
async function compareFates(ctx: Context, workload: Workload, expected: Expected): Promise<string[]> {
  const orgIds = workload.orgs.map((o) => o.orgId);
  const rows: { admission_id: string; fate: string; n: number }[] = await ctx.db.query(
    `SELECT admission_id, MIN(fate) AS fate, COUNT(*)::int AS n FROM admission_fates WHERE org_id = ANY($1) GROUP BY 1`,
    [orgIds],
  );
  const actual = new Map(rows.map((r) => [r.admission_id, r]));
  const diffs: string[] = [];
  for (const [admissionId, fate] of expected.fates) {
    const row = actual.get(admissionId);
    if (!row) diffs.push(`admission ${admissionId}: no fate (expected ${fate})`);
    else if (row.n !== 1) diffs.push(`admission ${admissionId}: ${row.n} fates`);
    else if (row.fate !== fate) diffs.push(`admission ${admissionId}: ${row.fate}, expected ${fate}`);
  }
  for (const id of actual.keys()) if (!expected.fates.has(id)) diffs.push(`admission ${id}: a fate for no admission`);
  const voidIds = new Map(workload.inputs.flatMap((i) => (i.topic === 'voided' ? [[i.admissionId, i.id]] : [])));
  const runs = workload.inputs.filter((i) => i.topic === 'verified' && i.action === 'agent.run');
  const net: { event_id: string; net: string }[] = await ctx.db.query(
    `SELECT event_id, SUM(amount)::text AS net FROM ledger_entries WHERE org_id = ANY($1) AND kind = 'agent'
        AND entry_type IN ('debit', 'overage', 'reversal') GROUP BY event_id`,
    [orgIds],
  );
  const byEvent = new Map(net.map((r) => [r.event_id, BigInt(r.net)]));
  for (const run of runs) {
    if (run.topic !== 'verified' || !run.admissionId) continue;
    const voidId = voidIds.get(run.admissionId);
    const total = (byEvent.get(run.id) ?? 0n) + (voidId ? (byEvent.get(voidId) ?? 0n) : 0n);
    const wanted = expected.fates.get(run.admissionId) === 'voided' ? 0n : -1_000n;
    if (total !== wanted) diffs.push(`agent.run ${run.admissionId}: ledger nets ${total}, expected ${wanted}`);
  }
  return diffs;
}

async function compareHolds(ctx: Context, orgIds: string[], expected: Expected): Promise<string[]> {
  const rows: { org_id: string; sandbox_id: string }[] = await ctx.db.query(
    `SELECT org_id, sandbox_id FROM holds WHERE org_id = ANY($1) AND status = 'active'`,
    [orgIds],
  );
  const actual = new Set(rows.map((r) => `${r.org_id}|${r.sandbox_id}`));
  const diffs: string[] = [];
  for (const hold of expected.activeHolds)
    if (!actual.has(hold)) diffs.push(`hold ${hold}: not active, expected active`);
  for (const hold of actual) if (!expected.activeHolds.has(hold)) diffs.push(`hold ${hold}: active, expected not`);
  return diffs;
}

/** docs/ARCHITECTURE.md §5's invariant per org, and Redis equal to PostgreSQL wherever Redis has a balance. */
async function compareBalances(ctx: Context, orgIds: string[]): Promise<string[]> {
  const diffs: string[] = [];
  const cache = new BalanceCache(ctx.redis, ctx.redisPrefix);
  for (const orgId of orgIds) {
    const report = await reconcile(ctx.db, ctx.redis, cache, { orgId });
    for (const d of report.invariant)
      diffs.push(`invariant ${orgId}|${d.kind}: ledger ${d.ledger}, packages remaining ${d.remaining}`);
    for (const d of report.drift)
      diffs.push(`redis ${orgId}: ${JSON.stringify(d.redis, big)} != postgres ${JSON.stringify(d.postgres, big)}`);
  }
  return diffs;
}
const big = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** Every poison of the seed is dead-lettered, and nothing else of it is (each DLQ read to its end). */
async function deadLetters(ctx: Context, seed: number, workload: Workload): Promise<string[]> {
  const poisons = new Set(workload.deliveries.flatMap((d) => ('poison' in d ? [d.poison.value] : [])));
  const mine = (value: string) => value.includes(`m${seed}-`) || value.includes(`poison-${seed}-`);
  const ends = await deadLetterEnds(ctx);
  const seen = new Set<string>();
  const foreign: string[] = [];
  const consumer = ctx.kafka.consumer({ groupId: `${ctx.topicPrefix}dlq-reader-${ulid()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    if (ends.size) {
      await consumer.subscribe({
        topics: [...new Set([...ends.keys()].map((k) => k.split('|')[0]))],
        fromBeginning: true,
      });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const value = message.value?.toString('utf8') ?? '';
          if (poisons.has(value)) seen.add(value);
          else if (mine(value)) foreign.push(`${String(message.headers?.['x-dlq-reason'])}: ${value.slice(0, 300)}`);
          const key = `${topic}|${partition}`;
          if (BigInt(message.offset) + 1n >= (ends.get(key) ?? 0n)) ends.delete(key);
        },
      });
      const deadline = Date.now() + 30_000;
      while (ends.size > 0 && Date.now() < deadline) await sleep(100);
      if (ends.size > 0) foreign.push(`DLQ partitions not read to their end in 30 s: ${[...ends.keys()].join(', ')}`);
    }
  } finally {
    await consumer.disconnect();
  }
  const missing = [...poisons].filter((p) => !seen.has(p)).map((p) => `poison not in a DLQ: ${p.slice(0, 120)}`);
  return [...missing, ...foreign.map((v) => `non-poison event in a DLQ: ${v}`)];
}

/** `topic|partition` → high watermark of every non-empty dead-letter partition of this run. */
async function deadLetterEnds(ctx: Context): Promise<Map<string, bigint>> {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const ends = new Map<string, bigint>();
    for (const t of Object.values(TOPIC)) {
      const topic = deadLetterTopic(topicName(ctx.topicPrefix, t));
      if (!existing.has(topic)) continue;
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic))
        if (BigInt(high) > BigInt(low)) ends.set(`${topic}|${partition}`, BigInt(high));
    }
    return ends;
  } finally {
    await admin.disconnect();
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const ctx = await createContext();
  const metering = new Metering(ctx);
  let failed = 0;
  const started = Date.now();
  try {
    await metering.start();
    for (let seed = options.seed; seed < options.seed + options.seeds; seed++) {
      const result = await runSeed(ctx, metering, seed, options);
      const verdict = result.diffs.length === 0 ? 'ok' : `FAILED (${result.diffs.length} differences)`;
      console.log(
        `seed ${seed}: events ${result.events}, deliveries ${result.deliveries}, ${result.ms} ms: ${verdict}`,
      );
      for (const diff of result.diffs.slice(0, 50)) console.log(`  ${diff}`);
      if (result.diffs.length === 0) continue;
      failed++;
      for (const line of metering.recentLog(40)) console.log(`  log: ${line.slice(0, 400)}`);
    }
  } finally {
    await metering.kill('SIGTERM');
    await disposeContext(ctx, options.keep);
  }
  const seeds = `${options.seed}..${options.seed + options.seeds - 1}`;
  console.log(
    `model check: seeds ${seeds}, ${options.events} events each, ${Date.now() - started} ms, ${failed} failed`,
  );
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
