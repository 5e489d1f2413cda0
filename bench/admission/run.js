// Admission benchmark: quota's POST /v1/admissions over HTTP (the built app, as its own process)
// at a fixed 3,000 admissions/s, then unthrottled; and, in the same run, the same Lua script
// called straight through ioredis (AdmissionCache), fixed-rate then unthrottled, as the baseline.
//
//   npm run build && node_modules/.bin/node bench/admission/run.js
//
// Env: BENCH_RATE (3000), BENCH_SECONDS (30), BENCH_MAX_SECONDS (10), BENCH_ORGS (200),
// BENCH_CONNECTIONS (32), DATABASE_URL (a scratch database is created on that server).
// Targets 127.0.0.1 only: its own redis-server on a spare port, quota on a spare port.
/* global performance, URL, fetch */
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const { freePort } = require('../lib/free-port');
const { resolve } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const autocannon = require('autocannon');
const { Client } = require('pg');
const { randomBytes } = require('node:crypto');
const { ulid } = require('ulid');
const { openLoop, latencySummary } = require('../lib/open-loop');
const { cpuSeconds, runQueueWaitSeconds } = require('../lib/proc');

// Unique admission ids, cheaply: ulid() costs ~50 µs here, as much as the decision itself.
const RUN = randomBytes(6).toString('hex');
let sequence = 0;
const nextId = () => `${RUN}-${(sequence++).toString(36)}`;

const ROOT = resolve(__dirname, '../..');
const dist = (path) => require(resolve(ROOT, 'dist', path));
const { createDataSource, runMigrations, grantPackage } = dist('libs/database/src');
const { AdmissionCache, createRedis } = dist('libs/redis/src');

const RATE = Number(process.env.BENCH_RATE ?? 3000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 10);
const ORGS = Number(process.env.BENCH_ORGS ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
// Which phases run (all by default): open, http, raw, httpMax, rawMax, httpFloor.
const PHASES = (process.env.BENCH_PHASES ?? 'open,http,raw,httpMax,rawMax,httpFloor').split(',');
const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = 'bench-service-token';
const PREFIX = 'bench:';

// One plan with room for the whole run: the benchmark measures the decision, not denials.
const CATALOG = {
  shapes: [{ name: 'small', pricePerHour: '1', requiredPlanTier: 0 }],
  plans: [
    {
      name: 'bench',
      tier: 0,
      concurrentSandboxes: -1,
      sandboxHoursIncludedPerMonth: '0',
      agentCreditsIncludedPerMonth: '0',
      orgRequestsPerSecond: 100000,
      keyRequestsPerSecond: 100000,
    },
  ],
};

/**
 * Runs a phase and adds the CPU seconds each process spent in it, and how long quota's event loop
 * was runnable but waiting for a core (the machine's share of the tail).
 */
async function phase(pids, work) {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const waitBefore = runQueueWaitSeconds(pids.quota);
  const result = await work();
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, Number((cpuSeconds(pid) - before[name]).toFixed(2))]),
  );
  const quotaWaitedSeconds = Number((runQueueWaitSeconds(pids.quota) - waitBefore).toFixed(2));
  return { ...result, cpuSeconds: cpu, quotaWaitedForCoreSeconds: quotaWaitedSeconds };
}

function summary(latencies, seconds, errors) {
  return {
    requests: latencies.length,
    perSecond: Math.round(latencies.length / seconds),
    ...latencySummary(latencies),
    errors,
  };
}

async function seed(databaseUrl, orgIds) {
  const db = await createDataSource({ url: databaseUrl, poolSize: 4 }).initialize();
  await runMigrations(db);
  for (const orgId of orgIds) {
    await db.query(`INSERT INTO organizations (id, name, plan) VALUES ($1, 'bench', 'bench')`, [orgId]);
    // A million sandbox hours each: no admission of the run is refused for balance.
    await grantPackage(db, {
      orgId,
      sandboxMs: 3_600_000_000_000n,
      agentMc: 0n,
      source: 'bench',
      externalId: `bench-${orgId}`,
    });
  }
  await db.destroy();
}

const body = (orgIds) =>
  JSON.stringify({
    orgId: orgIds[Math.floor(Math.random() * orgIds.length)],
    keyId: 'bench-key',
    action: 'sandbox.create',
    params: { shape: 'small', maxLifeSeconds: 60 },
    admissionId: nextId(),
  });

async function httpRun(url, orgIds, { rate, seconds }) {
  const latencies = [];
  const instance = autocannon({
    url: `${url}/v1/admissions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-service-token': TOKEN },
    connections: CONNECTIONS,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
    requests: [{ setupRequest: (request) => ({ ...request, body: body(orgIds) }) }],
  });
  // Exact per-response latencies (autocannon's histogram keeps whole milliseconds).
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) latencies.push(responseTime);
  });
  const result = await instance;
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    ...summary(latencies, seconds, errors),
    autocannonP99: result.latency.p99,
    statuses: result.statusCodeStats,
  };
}

/** Open-loop HTTP at a fixed rate (bench/lib/open-loop.js), each request a new admission. */
function httpOpenLoop(url, orgIds, { rate, seconds }) {
  return openLoop({
    origin: url,
    path: '/v1/admissions',
    headers: { 'content-type': 'application/json', 'x-service-token': TOKEN },
    rate,
    seconds,
    next: () => ({ body: body(orgIds) }),
    connections: Number(process.env.BENCH_OPEN_SOCKETS ?? 64),
  });
}

/** The framework's floor: quota's GET /health/live (no guard, no Redis), unthrottled. */
async function floorRun(url, seconds) {
  const latencies = [];
  const instance = autocannon({ url: `${url}/health/live`, connections: CONNECTIONS, duration: seconds });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) latencies.push(responseTime);
  });
  const result = await instance;
  return summary(latencies, seconds, result.errors + result.timeouts + result.non2xx);
}

/** The same script without HTTP: AdmissionCache.admit through one ioredis client. */
async function rawRun(cache, orgIds, { rate, seconds, concurrency = CONNECTIONS }) {
  const latencies = [];
  let errors = 0;
  const input = () => ({
    orgId: orgIds[Math.floor(Math.random() * orgIds.length)],
    keyId: 'bench-key',
    admissionId: nextId(),
    kind: 'create',
    fingerprint: 'bench',
    reserveMs: 60_000n,
    holdTtlMs: 60_000,
    recordTtlMs: 60_000,
    planTier: 0,
    requiredTier: 0,
    concurrentLimit: -1,
    agentMinimumMc: 0n,
    orgRatePerSecond: 100000,
    keyRatePerSecond: 100000,
  });
  const one = async () => {
    const started = performance.now();
    try {
      const outcome = await cache.admit(input());
      if (outcome.outcome !== 'ADMIT') errors++;
      else latencies.push(performance.now() - started);
    } catch {
      errors++;
    }
  };
  const end = Date.now() + seconds * 1000;
  if (rate) {
    // Open loop: send on schedule whatever the answers do (no coordinated omission).
    const started = performance.now();
    let sent = 0;
    const pending = new Set();
    while (Date.now() < end) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; sent < due; sent++) {
        const p = one().finally(() => pending.delete(p));
        pending.add(p);
      }
      await sleep(1);
    }
    await Promise.all(pending);
  } else {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < end) await one();
      }),
    );
  }
  return summary(latencies, seconds, errors);
}

async function main() {
  const redisPort = await freePort();
  const quotaPort = await freePort();
  const database = `tally_bench_admission_${Date.now()}`;
  const admin = new Client({ connectionString: BASE_DB });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const databaseUrl = Object.assign(new URL(BASE_DB), { pathname: `/${database}` }).toString();
  execFileSync('redis-server', [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
  ]);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  let quota;
  const report = {
    loadAverageBefore: require('node:os')
      .loadavg()
      .map((value) => Number(value.toFixed(2))),
    machine: `${require('node:os').cpus().length} cores`,
    rate: RATE,
    seconds: SECONDS,
    orgs: ORGS,
    connections: CONNECTIONS,
  };
  try {
    const orgIds = Array.from({ length: ORGS }, () => `ORG-${ulid()}`);
    await seed(databaseUrl, orgIds);
    // BENCH_PROFILE=dir: a CPU profile of quota for the whole run, written there on exit.
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    // BENCH_NODE_ARGS: extra Node flags for quota (e.g. --max-semi-space-size=32).
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    quota = spawn(process.execPath, [...profile, ...nodeArgs, resolve(ROOT, 'dist/apps/quota/src/main.js')], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: PREFIX,
        SERVICE_TOKENS: TOKEN,
        TALLY_ENV: 'development',
        KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
        KAFKA_TOPIC_PREFIX: 'bench-admission.',
        HOST: '127.0.0.1',
        PORT: String(quotaPort),
        LOG_LEVEL: 'warn',
        CATALOG_SOURCE: 'config',
        CATALOG_JSON: JSON.stringify(CATALOG),
        ADMISSION_HOLD_TTL_SECONDS: '60',
        ADMISSION_RECORD_TTL_SECONDS: '60',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const url = `http://127.0.0.1:${quotaPort}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health/ready`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 200) throw new Error('quota did not become ready');
      await sleep(100);
    }
    // Warm every org's cache (the cold load is a separate path) and the connections.
    await httpRun(url, orgIds, { rate: 1000, seconds: 2 });

    const redis = createRedis({ url: redisUrl, commandTimeoutMs: 1000 });
    const cache = new AdmissionCache(redis, PREFIX);
    // Every org is warm in Redis already; the baseline uses the same keys and script.

    const redisPid = Number(
      execFileSync('redis-cli', ['-p', String(redisPort), 'info', 'server'])
        .toString()
        .match(/process_id:(\d+)/)[1],
    );
    const pids = { quota: quota.pid, bench: process.pid, redis: redisPid };
    if (PHASES.includes('open'))
      report.open = await phase(pids, () => httpOpenLoop(url, orgIds, { rate: RATE, seconds: SECONDS }));
    console.error(`http open loop @${RATE}/s`, report.open);
    if (PHASES.includes('http'))
      report.http = await phase(pids, () => httpRun(url, orgIds, { rate: RATE, seconds: SECONDS }));
    console.error(`http @${RATE}/s`, report.http);
    if (PHASES.includes('raw'))
      report.raw = await phase(pids, () => rawRun(cache, orgIds, { rate: RATE, seconds: Math.min(SECONDS, 10) }));
    console.error(`raw @${RATE}/s`, report.raw);
    if (PHASES.includes('httpMax'))
      report.httpMax = await phase(pids, () => httpRun(url, orgIds, { seconds: MAX_SECONDS }));
    console.error('http max', report.httpMax);
    if (PHASES.includes('rawMax'))
      report.rawMax = await phase(pids, () => rawRun(cache, orgIds, { seconds: MAX_SECONDS, concurrency: 64 }));
    console.error('raw max', report.rawMax);
    if (PHASES.includes('httpFloor')) report.httpFloor = await phase(pids, () => floorRun(url, MAX_SECONDS));
    console.error('http floor (GET /health/live)', report.httpFloor);
    // The target is judged on the open loop: autocannon's fixed rate measures its own bursts.
    report.pass = Boolean(
      report.open && report.open.p99 <= 3 && report.open.errors === 0 && report.open.perSecond >= RATE * 0.98,
    );
    report.loadAverageAfter = require('node:os')
      .loadavg()
      .map((value) => Number(value.toFixed(2)));
    redis.disconnect();
  } finally {
    quota?.kill('SIGTERM');
    try {
      execFileSync('redis-cli', ['-p', String(redisPort), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    await sleep(500);
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  console.log(JSON.stringify(report, null, 2));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
