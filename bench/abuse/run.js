/* global URL, fetch, setTimeout, setInterval, clearInterval, __filename */
// Abuse benchmark (issue 11): auth (built, its own process) verifying legitimate keys while junk
// keys pour in from the same addresses. Three phases, open loop (bench/lib/open-loop.js):
//   1. legitimate load alone: LEGIT/s from 50 addresses;
//   2. the same plus GARBAGE/s well-formed junk keys (valid checksum, unknown ids) from those
//      addresses: 0 legitimate refused, their p99 within 2x of phase 1, PostgreSQL key lookups/s;
//   3. phase 2 again with Redis stopped for 10 s in the middle.
// Redis is a redis-server of the bench's own on a spare port (phase 3 stops it); PostgreSQL and
// Kafka are this machine's.
//
//   npm run build && flock /tmp/bench.lock node_modules/.bin/node bench/abuse/run.js [--garbage 2000] [--legit 200] [--duration 30]
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { resolve } = require('node:path');
const os = require('node:os');
const { Client } = require('pg');
const { openLoop } = require('../lib/open-loop');
const { cpuSeconds } = require('../lib/proc');
const { freePort } = require('../lib/free-port');

const ROOT = resolve(__dirname, '../..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const arg = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const GARBAGE = arg('garbage', 2000);
const LEGIT = arg('legit', 200);
const DURATION = arg('duration', 30);
const REDIS_DOWN_SECONDS = 10;
const ADDRESSES = Array.from({ length: 50 }, (_, i) => `198.51.100.${i + 1}`);
const KEYS = 20;

const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const SERVICE_TOKEN = 'bench-service-token';
const HEADERS = { 'content-type': 'application/json', 'x-service-token': SERVICE_TOKEN };
const JWT_SECRET = 'bench-dashboard-secret-0123456789abcdef';
const run = `abuse${Date.now().toString(36)}`;
const database = `tally_${run}`;
const { formatApiKey, base32 } = require(resolve(ROOT, 'dist/libs/contracts/src'));

const dbUrl = (name) => {
  const url = new URL(BASE_DB);
  url.pathname = `/${name}`;
  return url.toString();
};

async function admin(sql) {
  const client = new Client({ connectionString: BASE_DB });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const redisArgs = (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
const startRedis = (port) => execFileSync('redis-server', [...redisArgs(port), '--daemonize', 'yes']);
const stopRedis = (port) => {
  try {
    execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
  } catch {
    // already down
  }
};

async function waitReady(url, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function startAuth(port, redisPort) {
  return spawn(NODE, [resolve(ROOT, 'dist/apps/auth/src/main.js')], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: dbUrl(database),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      KAFKA_BROKERS,
      KAFKA_TOPIC_PREFIX: `${run}.`,
      REDIS_KEY_PREFIX: `${run}:`,
      SERVICE_TOKENS: SERVICE_TOKEN,
      TALLY_ENV: 'development',
      QUOTA_DISABLED: 'true',
      API_KEY_PEPPER: 'bench-pepper-bench-pepper-bench-pepper-0',
      JWT_SECRET,
      PORT: String(port),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Sum of a metric's series whose line includes `filter`. */
async function metric(url, name, filter = '') {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && line.includes(filter) && !line.startsWith('#'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

const junkKey = () => formatApiKey('lysk-', base32(randomBytes(10), 16), base32(randomBytes(32), 52));

const legitLoad = (url, keys, orgId) =>
  openLoop({
    origin: url,
    path: '/v1/verify',
    headers: HEADERS,
    rate: LEGIT,
    seconds: DURATION,
    connections: 32,
    next: (n) => ({
      body: JSON.stringify({
        key: keys[n % keys.length],
        action: 'sandbox.list',
        orgId,
        sourceAddress: ADDRESSES[n % ADDRESSES.length],
      }),
    }),
  });

const junkLoad = (url, orgId) =>
  openLoop({
    origin: url,
    path: '/v1/verify',
    headers: HEADERS,
    rate: GARBAGE,
    seconds: DURATION,
    connections: 64,
    next: (n) => ({
      body: JSON.stringify({ key: junkKey(), action: 'sandbox.list', orgId, sourceAddress: ADDRESSES[n % 50] }),
    }),
  });

/**
 * The junk from a process of its own: generating 2,000 keys a second in the process that times
 * the legitimate requests would delay their answers in the generator's own event loop.
 */
const garbageLoad = (url, orgId) =>
  new Promise((resolve, reject) => {
    const child = spawn(NODE, [__filename, '--junk-for', url, orgId, ...process.argv.slice(2)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`junk load exited ${code}`)),
    );
  });

/**
 * PostgreSQL key lookups per second, sampled every second while `work` runs: the mean over the
 * time the phase really took (an overloaded machine stretches a 30 s phase) and the busiest second.
 */
async function sampleLookups(url, work) {
  const read = () => metric(url, 'auth_key_lookups_total', 'source="postgres"').catch(() => NaN);
  const first = await read();
  const started = Date.now();
  let last = first;
  let peak = 0;
  const timer = setInterval(async () => {
    const now = await read();
    if (Number.isFinite(now) && Number.isFinite(last)) peak = Math.max(peak, now - last);
    last = now;
  }, 1_000);
  try {
    const result = await work();
    const seconds = (Date.now() - started) / 1000;
    return { result, seconds, perSecond: ((await read()) - first) / seconds, peak };
  } finally {
    clearInterval(timer);
  }
}

/** One phase: what the legitimate callers saw, what the junk got, and what reached PostgreSQL. */
async function phase(label, url, pid, scenario) {
  const shedBefore = await metric(url, 'auth_key_lookups_shed_total');
  const cpuBefore = cpuSeconds(pid);
  const loadBefore = os.loadavg()[0];
  const sampled = await sampleLookups(url, scenario);
  const [legit, garbage] = sampled.result;
  return {
    phase: label,
    'legit sent': legit.sent,
    'legit refused': legit.sent - (legit.statuses[200] ?? 0),
    'legit p50 ms': legit.p50,
    'legit p99 ms': legit.p99,
    'legit 100 ms windows > 10 ms': legit.slowWindows,
    'garbage sent': garbage ? garbage.sent : 0,
    'garbage answers': garbage ? JSON.stringify(garbage.statuses) : '-',
    'phase s': Math.round(sampled.seconds),
    'PG key lookups/s': Math.round(sampled.perSecond * 10) / 10,
    'PG lookups, busiest s': sampled.peak,
    'lookups shed': (await metric(url, 'auth_key_lookups_shed_total')) - shedBefore,
    'auth CPU %': Math.round(((cpuSeconds(pid) - cpuBefore) / sampled.seconds) * 100),
    'load 1 min': `${loadBefore.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`,
  };
}

async function issueKeys(url, orgId) {
  const { signDashboardJwt } = require(resolve(ROOT, 'dist/apps/auth/src/dashboard-auth/jwt-signer.js'));
  const token = signDashboardJwt(
    { sub: 'USR-bench', memberships: [{ orgId, role: 'owner' }], iss: 'tally-dashboard', aud: 'tally-auth' },
    { algorithm: 'HS256', secret: JWT_SECRET },
  );
  const keys = [];
  for (let i = 0; i < KEYS; i++) {
    const response = await fetch(`${url}/v1/orgs/${orgId}/api-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: `abuse bench ${i}` }),
    });
    if (response.status !== 201) throw new Error(`key creation answered ${response.status}`);
    keys.push((await response.json()).key);
  }
  return keys;
}

async function main() {
  await admin(`CREATE DATABASE "${database}"`);
  const [port, redisPort] = [await freePort(), await freePort()];
  startRedis(redisPort);
  const url = `http://127.0.0.1:${port}`;
  const auth = startAuth(port, redisPort);
  const results = [];
  const notes = [];
  try {
    await waitReady(url);
    const orgId = `ORG-${require('ulid').ulid()}`;
    const keys = await issueKeys(url, orgId);
    await openLoop({
      origin: url,
      path: '/v1/verify',
      headers: HEADERS,
      rate: LEGIT,
      seconds: 3,
      next: (n) => ({
        body: JSON.stringify({ key: keys[n % KEYS], action: 'sandbox.list', orgId, sourceAddress: ADDRESSES[n % 50] }),
      }),
    }); // warm-up
    console.log(`phase 1: ${LEGIT}/s legitimate for ${DURATION}s ...`);
    results.push(await phase('legitimate alone', url, auth.pid, async () => [await legitLoad(url, keys, orgId)]));
    console.log(`phase 2: + ${GARBAGE}/s junk ...`);
    results.push(
      await phase('with junk', url, auth.pid, () =>
        Promise.all([legitLoad(url, keys, orgId), garbageLoad(url, orgId)]),
      ),
    );
    console.log(`phase 3: + junk, Redis stopped for ${REDIS_DOWN_SECONDS}s ...`);
    const outage = (async () => {
      await new Promise((r) => setTimeout(r, ((DURATION - REDIS_DOWN_SECONDS) / 2) * 1000));
      stopRedis(redisPort);
      await new Promise((r) => setTimeout(r, 1_000));
      notes.push(`Redis down: auth_throttle_local_fallback = ${await metric(url, 'auth_throttle_local_fallback')}`);
      await new Promise((r) => setTimeout(r, (REDIS_DOWN_SECONDS - 1) * 1000));
      startRedis(redisPort);
    })();
    results.push(
      await phase(`with junk, Redis down ${REDIS_DOWN_SECONDS}s`, url, auth.pid, () =>
        Promise.all([legitLoad(url, keys, orgId), garbageLoad(url, orgId)]),
      ),
    );
    await outage;
    notes.push(`after: auth_throttle_local_fallback = ${await metric(url, 'auth_throttle_local_fallback')}`);
    notes.push(`auth_verify_failures_total: ${await metric(url, 'auth_verify_failures_total')}`);
  } finally {
    auth.kill('SIGTERM');
    await new Promise((r) => auth.once('exit', r));
    stopRedis(redisPort);
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
  }
  console.log(`\nmachine: ${os.cpus().length} cores, load average before: ${LOAD}, after: ${loadNow()}`);
  console.table(results);
  for (const note of notes) console.log(note);
  const [alone, junk, down] = results;
  console.log(
    `legit p99 with junk / alone: ${(junk['legit p99 ms'] / alone['legit p99 ms']).toFixed(2)}; ` +
      `with Redis down / alone: ${(down['legit p99 ms'] / alone['legit p99 ms']).toFixed(2)}`,
  );
  console.log(JSON.stringify(results));
}

const loadNow = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
const LOAD = loadNow();
const junkFor = process.argv.indexOf('--junk-for');
const entry =
  junkFor > 0
    ? () => junkLoad(process.argv[junkFor + 1], process.argv[junkFor + 2]).then((r) => console.log(JSON.stringify(r)))
    : main;
entry().catch((error) => {
  console.error(error);
  process.exit(1);
});
