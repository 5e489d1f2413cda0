// Pipeline benchmark: acknowledged publish → metering (the built app, its own process) → ledger in
// PostgreSQL and balances in Redis, with 1,000 organizations on 12 partitions. In the same run,
// over the same topics, a raw kafkajs consume-only pass (eachBatch, nothing done) is the baseline,
// with metering's own fetch settings; a second raw pass also runs metering's decoder on every message.
//
//   npm run build && node_modules/.bin/node bench/pipeline/run.js
//
// Phases: (1) publish BENCH_EVENTS events (acks=-1); (2) raw kafkajs groups drain them (consume
// only, then consume + decode);
// (3) metering drains the same backlog: sustained events/s = the middle 90% of the drain;
// (4) fixed BENCH_RATE events/s for BENCH_SECONDS with probes: freshness = acknowledged publish
// → Redis balance reflects it (polled every 5 ms), p50/p99; metering RSS sampled throughout. Over
// the drain and the fixed-rate phase: CPU seconds of metering, of PostgreSQL (metering's backends,
// and the rest), Kafka, Redis and the bench itself, and the machine's busy time: what bounds the rate.
// Env: BENCH_EVENTS (100000), BENCH_RATE (2000), BENCH_SECONDS (30), BENCH_ORGS (1000),
// DATABASE_URL (a scratch database is created on that server), REDIS_URL, KAFKA_BROKERS,
// BENCH_METERING_NODE_OPTIONS (metering's V8 flags instead of those of scripts/app-runtime.sh, through
// which metering is started as in production; empty: none), CONSUMER_* (passed to metering; the raw
// passes use the same fetch sizes and concurrency).
/* global performance, URL, setInterval, clearInterval, fetch */
'use strict';
const { spawn } = require('node:child_process');
const { readdirSync, readFileSync } = require('node:fs');
const { resolve } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { Client } = require('pg');
const { cpuSeconds } = require('../lib/proc');
const { Kafka, logLevel, Partitioners } = require('kafkajs');
const { randomBytes } = require('node:crypto');

const ROOT = resolve(__dirname, '../..');
const dist = (path) => require(resolve(ROOT, 'dist', path));
const { createDataSource, runMigrations } = dist('libs/database/src');
const { ensureTopics, PARTITIONS_PER_FETCH } = dist('libs/kafka/src');
const { createRedis, BalanceCache } = dist('libs/redis/src');
const { loadMeteringConfig } = dist('apps/metering/src/config/metering.config');
const { decodeMeteringEvent } = dist('apps/metering/src/consumers/event-decoder');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const ORGS = Number(process.env.BENCH_ORGS ?? 1_000);
const PARTITIONS = 12;
const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const RUN = randomBytes(4).toString('hex');
const PREFIX = `bench${RUN}.`;
const REDIS_PREFIX = `bench${RUN}:`;
const TOPICS = { verified: 'auth.action.verified.v1', sandbox: 'usage.sandbox.v1', agent: 'usage.agent.v1' };
const topic = (name) => `${PREFIX}${name}`;

let seq = 0;
const nextId = () => `${RUN}-${(seq++).toString(36)}`;
const ulidLike = () => {
  // ORG-<26 Crockford base32>: valid org ids without the ulid package's cost.
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let s = '';
  for (let i = 0; i < 26; i++) s += alphabet[Math.floor(Math.random() * 32)];
  return `ORG-${s}`;
};
const envelope = (id, source, type, orgId, data) => ({
  specversion: '1.0',
  id,
  source,
  type,
  subject: orgId,
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data,
});

/** A realistic mix: agent runs and reports, sandbox creates with holds, heartbeats and stops. */
function makeEvent(orgIds, open) {
  const orgId = orgIds[Math.floor(Math.random() * orgIds.length)];
  const roll = Math.random();
  const id = nextId();
  if (roll < 0.25) {
    return {
      topic: topic(TOPICS.verified),
      key: orgId,
      value: envelope(id, '//bench/auth', 'action.verified', orgId, {
        orgId,
        keyId: 'k',
        userId: 'u',
        action: 'agent.run',
        resource: null,
        params: {},
        admissionId: null,
      }),
    };
  }
  if (roll < 0.55) {
    return {
      topic: topic(TOPICS.agent),
      key: orgId,
      value: envelope(id, '//bench/agent', 'agent.consumed', orgId, {
        orgId,
        runId: id,
        credits: 1 + Math.floor(Math.random() * 2_000),
        kind: 'inference',
      }),
    };
  }
  if (roll < 0.65 || open.length === 0) {
    const sandboxId = `sbx-${id}`;
    if (open.length < 20_000) open.push({ orgId, sandboxId, seq: 0 });
    return {
      topic: topic(TOPICS.verified),
      key: orgId,
      value: envelope(id, '//bench/auth', 'action.verified', orgId, {
        orgId,
        keyId: 'k',
        userId: 'u',
        action: 'sandbox.create',
        resource: { type: 'sandbox', id: sandboxId },
        params: { shape: 'small', maxLifeSeconds: 3_600 },
        admissionId: `adm-${id}`,
      }),
    };
  }
  const index = Math.floor(Math.random() * open.length);
  const sandbox = open[index];
  const stop = Math.random() < 0.1;
  if (stop) open.splice(index, 1);
  sandbox.seq += 1;
  return {
    topic: topic(TOPICS.sandbox),
    key: sandbox.orgId,
    value: envelope(id, '//bench/runtime', stop ? 'sandbox.stopped' : 'sandbox.heartbeat', sandbox.orgId, {
      orgId: sandbox.orgId,
      sandboxId: sandbox.sandboxId,
      shape: 'small',
      runtimeMs: Math.floor(Math.random() * 60_000),
      sequence: sandbox.seq,
    }),
  };
}

async function send(producer, events) {
  const byTopic = new Map();
  for (const e of events) {
    if (!byTopic.has(e.topic)) byTopic.set(e.topic, []);
    byTopic.get(e.topic).push({ key: e.key, value: JSON.stringify(e.value) });
  }
  await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([t, messages]) => ({ topic: t, messages })) });
}

const percentile = (values, p) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

function rssMb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(line.split(/\s+/)[1]) / 1024;
  } catch {
    return 0;
  }
}

/** The machine's busy and total CPU seconds so far (all cores, from /proc/stat). */
function machineSeconds() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - ticks[3] - ticks[4]) / 100, total: total / 100 };
}

/** Pids by process name (`comm`) or, for the JVM, by a word of the command line. */
function pidsOf(match) {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (
        match(readFileSync(`/proc/${entry}/comm`, 'utf8').trim(), () => readFileSync(`/proc/${entry}/cmdline`, 'utf8'))
      )
        pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/**
 * CPU seconds so far of everything that shares the 2 cores with metering: metering itself, its
 * PostgreSQL backends (application_name tally-metering), the rest of PostgreSQL (WAL writer,
 * checkpointer, autovacuum, other clients), the Kafka broker, Redis, this bench process.
 */
async function cpuSnapshot(db, database, meteringPid) {
  const backends = (
    await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'tally-metering'`, [
      database,
    ])
  ).map((row) => Number(row.pid));
  const perPid = (pids) => new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
  const bench = process.cpuUsage();
  return {
    at: performance.now(),
    machine: machineSeconds(),
    metering: cpuSeconds(meteringPid),
    pgMetering: perPid(backends),
    pgAll: perPid(pidsOf((comm) => comm === 'postgres')),
    kafka: perPid(pidsOf((comm, cmdline) => comm === 'java' && cmdline().includes('kafka.Kafka'))),
    redis: perPid(pidsOf((comm) => comm === 'redis-server')),
    bench: (bench.user + bench.system) / 1e6,
  };
}

/** CPU seconds spent between two snapshots, per process group, and µs per event. */
function cpuBetween(start, end, events) {
  const spent = (a, b) => {
    let sum = 0;
    for (const [pid, cpu] of b) if (Number.isFinite(cpu)) sum += cpu - (a.get(pid) ?? 0);
    return sum;
  };
  const pgMetering = spent(start.pgMetering, end.pgMetering);
  const seconds = {
    metering: end.metering - start.metering,
    postgresMetering: pgMetering,
    postgresOther: spent(start.pgAll, end.pgAll) - pgMetering,
    kafka: spent(start.kafka, end.kafka),
    redis: spent(start.redis, end.redis),
    bench: end.bench - start.bench,
  };
  // Busy CPU of the machine that none of the above used: other engineers' tests, the kernel's threads.
  seconds.others = end.machine.busy - start.machine.busy - Object.values(seconds).reduce((a, b) => a + b, 0);
  const wall = (end.at - start.at) / 1000;
  return {
    wallSeconds: Number(wall.toFixed(2)),
    machineBusy: `${Math.round((100 * (end.machine.busy - start.machine.busy)) / (end.machine.total - start.machine.total))}%`,
    cpuSeconds: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, Number(v.toFixed(2))])),
    cpuUsPerEvent: Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, Math.round((v * 1e6) / events)])),
  };
}

/** Fresh events per ledger transaction so far (metering's own histogram on /metrics). */
async function ledgerBatches(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name) => Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'))?.[1] ?? NaN);
  return { sum: value('tally_ledger_batch_events_sum'), count: value('tally_ledger_batch_events_count') };
}

async function groupLag(admin, groupId) {
  let lag = 0n;
  const topics = Object.values(TOPICS).map(topic);
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const t of topics) {
    const ends = await admin.fetchTopicOffsets(t);
    const mine = committed.find((c) => c.topic === t)?.partitions ?? [];
    for (const end of ends) {
      const offset = BigInt(mine.find((p) => p.partition === end.partition)?.offset ?? '-1');
      lag += BigInt(end.high) - (offset < 0n ? BigInt(end.low) : offset);
    }
  }
  return Number(lag);
}

async function main() {
  const database = `tally_bench_pipeline_${RUN}`;
  const admin = new Client({ connectionString: BASE_DB });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = new URL(BASE_DB);
  url.pathname = `/${database}`;
  const dbUrl = url.toString();
  const db = await createDataSource({ url: dbUrl, poolSize: 4 }).initialize();
  await runMigrations(db);

  // 1,000 organizations, each with a package large enough for the run.
  const orgIds = Array.from({ length: ORGS }, ulidLike);
  await db.query(`INSERT INTO organizations (id, name) SELECT id, 'bench' FROM unnest($1::varchar[]) AS t(id)`, [
    orgIds,
  ]);
  await db.query(
    `INSERT INTO packages (org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining, source, external_id)
     SELECT id, 36000000000, 36000000000, 1000000000, 1000000000, 'bench', 'bench-' || id FROM unnest($1::varchar[]) AS t(id)`,
    [orgIds],
  );
  await db.query(
    `INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id)
     SELECT p.org_id, p.id, k.kind, 'grant', CASE k.kind WHEN 'sandbox' THEN 36000000000 ELSE 1000000000 END, 'grant:bench', p.external_id
       FROM packages p CROSS JOIN (VALUES ('sandbox'), ('agent')) AS k(kind)`,
  );

  const kafka = new Kafka({ clientId: 'bench-pipeline', brokers: BROKERS, logLevel: logLevel.NOTHING });
  const consumed = Object.values(TOPICS).map(topic);
  await ensureTopics(
    kafka,
    [...consumed, ...consumed.map((t) => `${t}.dlq`), topic('metering.ledger.v1'), topic('metering.alerts.v1')],
    PARTITIONS,
  );
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();

  // (1) the backlog
  const open = [];
  let published = performance.now();
  for (let i = 0; i < EVENTS; i += 2_000) {
    await send(
      producer,
      Array.from({ length: Math.min(2_000, EVENTS - i) }, () => makeEvent(orgIds, open)),
    );
  }
  published = performance.now() - published;
  console.error(`published ${EVENTS} in ${(published / 1000).toFixed(1)} s`);

  // The metering process's environment; its consumer settings also configure the raw passes.
  const port = 30_000 + Math.floor(Math.random() * 10_000);
  const childEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: dbUrl,
    REDIS_URL,
    KAFKA_BROKERS: BROKERS.join(','),
    KAFKA_TOPIC_PREFIX: PREFIX,
    REDIS_KEY_PREFIX: REDIS_PREFIX,
    SERVICE_TOKENS: 'bench',
    TALLY_ENV: 'development',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    EXPIRY_INTERVAL_MS: '0',
    ...(process.env.BENCH_METERING_NODE_OPTIONS !== undefined
      ? { METERING_NODE_OPTIONS: process.env.BENCH_METERING_NODE_OPTIONS }
      : {}),
  };
  for (const name of Object.keys(process.env)) if (name.startsWith('CONSUMER_')) childEnv[name] = process.env[name];
  const config = loadMeteringConfig(childEnv);

  // (2) raw kafkajs baselines over the same topics and messages, with metering's fetch sizes and
  // every partition of a fetch in flight (as metering's BatchConsumer): consume only (the issue's
  // baseline: record batches decoded by kafkajs, nothing else), then consume + metering's decoder
  // (JSON + schema) on every message.
  const rawPass = async (name, decode) => {
    const raw = kafka.consumer({
      groupId: `${PREFIX}${name}`,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: config.CONSUMER_MAX_BYTES_PER_PARTITION,
      maxBytes: config.CONSUMER_MAX_BYTES,
    });
    let count = 0;
    const marks = {};
    // From the group's first fetch request to the last message: one fetch can carry much of the
    // backlog, so timing from the first batch would leave out the fetch that brought it.
    raw.on(raw.events.FETCH_START, () => {
      if (marks.start) return;
      marks.cpu = process.cpuUsage();
      marks.start = performance.now();
    });
    await raw.connect();
    await raw.subscribe({ topics: consumed, fromBeginning: true });
    await raw.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: PARTITIONS_PER_FETCH,
      eachBatch: async ({ batch }) => {
        if (decode) for (const message of batch.messages) decodeMeteringEvent(message, batch.topic);
        count += batch.messages.length;
        if (count >= EVENTS && !marks.end) {
          marks.end = performance.now();
          const used = process.cpuUsage(marks.cpu);
          marks.cpuUsPerEvent = (used.user + used.system) / EVENTS;
        }
      },
    });
    while (!marks.end) await sleep(20);
    await raw.disconnect();
    return { rate: EVENTS / ((marks.end - marks.start) / 1000), cpuUsPerEvent: marks.cpuUsPerEvent };
  };
  const rawConsume = await rawPass('raw', false);
  const rawDecode = await rawPass('raw-decode', true);
  const rawRate = rawConsume.rate;
  console.error(
    `raw kafkajs: ${Math.round(rawRate)} events/s consume only, ${Math.round(rawDecode.rate)} events/s with decode`,
  );

  // (3) metering drains the same backlog
  // Started as scripts/stack.sh and the Dockerfile start it: its runtime settings (heap limits)
  // from scripts/app-runtime.sh, then exec (the pid is node's).
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      '. ./scripts/app-runtime.sh && exec "$0" dist/apps/metering/src/main.js',
      resolve(ROOT, 'node_modules/.bin/node'),
    ],
    { cwd: ROOT, env: { ...childEnv, APP: 'metering' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const rss = [];
  const sampler = setInterval(() => rss.push(rssMb(child.pid)), 500);
  const count = async () => Number((await db.query('SELECT COUNT(*)::int AS n FROM processed_events'))[0].n);
  const marks = {};
  for (;;) {
    const n = await count();
    if (n >= EVENTS * 0.05 && !marks.start) marks.start = { n, cpu: await cpuSnapshot(db, database, child.pid) };
    if (n >= EVENTS * 0.95 && !marks.end) marks.end = { n, cpu: await cpuSnapshot(db, database, child.pid) };
    if (n >= EVENTS) break;
    await sleep(50);
  }
  const kadmin = kafka.admin();
  await kadmin.connect();
  while ((await groupLag(kadmin, `${PREFIX}metering.ledger`)) > 0) await sleep(50);
  const drained = marks.end.n - marks.start.n;
  const meteringRate = drained / ((marks.end.cpu.at - marks.start.cpu.at) / 1000);
  const drainCpu = cpuBetween(marks.start.cpu, marks.end.cpu, drained);
  const drainBatches = await ledgerBatches(port);
  const drainRss = Math.max(...rss);
  const runtime = Object.fromEntries(
    readFileSync(`/proc/${child.pid}/environ`, 'utf8')
      .split('\0')
      .filter((entry) => /^(NODE_OPTIONS|MALLOC_MMAP_THRESHOLD_)=/.test(entry))
      .map((entry) => entry.split(/=(.*)/s).slice(0, 2)),
  );
  console.error(`metering end to end: ${Math.round(meteringRate)} events/s (RSS max ${drainRss.toFixed(0)} MB)`);

  // (4) fixed rate with freshness probes: dedicated probe orgs get only probe events
  const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 5_000 });
  const cache = new BalanceCache(redis, REDIS_PREFIX);
  const probeOrgs = orgIds.slice(0, 20);
  const loadOrgs = orgIds.slice(20);
  const expectedMc = new Map();
  for (const orgId of probeOrgs) expectedMc.set(orgId, (await cache.get(orgId))?.agentMc ?? 1_000_000_000n);
  const pending = []; // {orgId, target, ackedAt}
  const freshness = [];
  let polling = true;
  const poller = (async () => {
    while (polling || pending.length) {
      if (pending.length) {
        const orgs = [...new Set(pending.map((p) => p.orgId))];
        const values = await Promise.all(orgs.map((o) => redis.hget(cache.keys(o).balance, 'agent_mc')));
        const now = performance.now();
        const current = new Map(orgs.map((o, i) => [o, values[i] === null ? null : BigInt(values[i])]));
        for (let i = pending.length - 1; i >= 0; i--) {
          const p = pending[i];
          const value = current.get(p.orgId);
          if (value !== null && value <= p.target && p.ackedAt !== undefined) {
            freshness.push(now - p.ackedAt);
            pending.splice(i, 1);
          }
        }
      }
      await sleep(5);
    }
  })();
  const tickMs = 50;
  const perTick = (RATE * tickMs) / 1000;
  const fixedCpuStart = await cpuSnapshot(db, database, child.pid);
  const started = performance.now();
  let sent = 0;
  let probeIndex = 0;
  let lateTicks = 0;
  while (performance.now() - started < SECONDS * 1000) {
    const tick = performance.now();
    const batch = Array.from({ length: perTick - 1 }, () => makeEvent(loadOrgs, open));
    const orgId = probeOrgs[probeIndex++ % probeOrgs.length];
    const credits = 1 + Math.floor(Math.random() * 1_000);
    const target = expectedMc.get(orgId) - BigInt(credits);
    expectedMc.set(orgId, target);
    batch.push({
      topic: topic(TOPICS.agent),
      key: orgId,
      value: envelope(nextId(), '//bench/probe', 'agent.consumed', orgId, {
        orgId,
        runId: 'probe',
        credits,
        kind: 'tool',
      }),
    });
    const probe = { orgId, target, ackedAt: undefined };
    pending.push(probe);
    await send(producer, batch);
    probe.ackedAt = performance.now();
    sent += batch.length;
    const spent = performance.now() - tick;
    if (spent > tickMs) lateTicks += 1;
    await sleep(Math.max(0, tickMs - spent));
  }
  const elapsed = (performance.now() - started) / 1000;
  const fixedCpu = cpuBetween(fixedCpuStart, await cpuSnapshot(db, database, child.pid), sent);
  const fixedBatches = await ledgerBatches(port);
  const deadline = performance.now() + 30_000;
  while (pending.length && performance.now() < deadline) await sleep(20);
  polling = false;
  await poller;
  // The outbox relay must keep up: the outbox empties shortly after the load stops.
  const outboxDeadline = performance.now() + 30_000;
  let outboxLeft;
  while ((outboxLeft = (await db.query('SELECT COUNT(*)::int AS n FROM outbox'))[0].n) > 0) {
    if (performance.now() > outboxDeadline) break;
    await sleep(100);
  }
  clearInterval(sampler);
  const result = {
    machine: `${require('node:os').cpus().length} cores, ${require('node:os').cpus()[0].model}`,
    orgs: ORGS,
    partitions: PARTITIONS,
    backlogEvents: EVENTS,
    publishRate: Math.round(EVENTS / (published / 1000)),
    rawConsumeRate: Math.round(rawRate),
    rawDecodeRate: Math.round(rawDecode.rate),
    meteringRate: Math.round(meteringRate),
    ratioToRaw: Number((meteringRate / rawRate).toFixed(3)),
    ratioToRawDecode: Number((meteringRate / rawDecode.rate).toFixed(3)),
    rawCpuUsPerEvent: Number(rawConsume.cpuUsPerEvent.toFixed(1)),
    rawDecodeCpuUsPerEvent: Number(rawDecode.cpuUsPerEvent.toFixed(1)),
    meteringCpuUsPerEvent: drainCpu.cpuUsPerEvent.metering,
    drainEventsPerTransaction: Math.round(drainBatches.sum / drainBatches.count),
    drainCpu,
    loadAverage: require('node:os')
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    fixedRateTarget: RATE,
    fixedRateAchieved: Math.round(sent / elapsed),
    lateTicks,
    fixedRateEventsPerTransaction: Math.round(
      (fixedBatches.sum - drainBatches.sum) / (fixedBatches.count - drainBatches.count),
    ),
    fixedRateCpu: fixedCpu,
    probes: freshness.length,
    unresolvedProbes: pending.length,
    freshnessP50Ms: Math.round(percentile(freshness, 50)),
    freshnessP99Ms: Math.round(percentile(freshness, 99)),
    freshnessMaxMs: Math.round(Math.max(...freshness)),
    meteringRssMaxMb: Math.round(Math.max(...rss)),
    meteringRssMaxDrainMb: Math.round(drainRss),
    meteringRuntime: runtime,
    outboxRowsLeft: outboxLeft,
  };
  console.log(JSON.stringify(result, null, 2));

  child.kill('SIGTERM');
  await new Promise((done) => child.once('exit', done));
  await kadmin
    .deleteTopics({
      topics: [
        ...consumed,
        ...consumed.map((t) => `${t}.dlq`),
        topic('metering.ledger.v1'),
        topic('metering.alerts.v1'),
      ],
    })
    .catch(() => undefined);
  await kadmin.disconnect();
  await producer.disconnect();
  redis.disconnect();
  await db.destroy();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
