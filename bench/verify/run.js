/* global URL, fetch, setTimeout */
// Verify benchmark: auth (built, as its own process, with PostgreSQL, Redis and Kafka on this
// machine) at a fixed rate, open loop (bench/lib/open-loop.js), 90% non-metered / 10% metered
// actions; then the highest rate it reaches (autocannon, closed loop); each beside a bare Fastify
// route measured in the same run.
//
//   npm run build && node_modules/.bin/node bench/verify/run.js [--rate 2000] [--duration 30] [--max-duration 10]
//
// Needs Kafka on KAFKA_BROKERS (127.0.0.1:9092), PostgreSQL on DATABASE_URL's server and Redis.
const autocannon = require('autocannon');
const { fork, spawn } = require('node:child_process');
const { resolve } = require('node:path');
const os = require('node:os');
const { Client } = require('pg');
const { openLoop } = require('../lib/open-loop');
const { cpuSeconds, runQueueWaitSeconds } = require('../lib/proc');
const { freePort } = require('../lib/free-port');

const ROOT = resolve(__dirname, '../..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const arg = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const RATE = arg('rate', 2000);
const DURATION = arg('duration', 30);
const MAX_DURATION = arg('max-duration', 10);
const KEYS = 20;

const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const SERVICE_TOKEN = 'bench-service-token';
const JWT_SECRET = 'bench-dashboard-secret-0123456789abcdef';
const run = `bench${Date.now().toString(36)}`;
const database = `tally_${run}`;

const METERED = ['sandbox.create', 'sandbox.extend', 'agent.run'];
const NON_METERED = [
  'sandbox.list',
  'sandbox.get',
  'sandbox.action.execute',
  'sandbox.preview',
  'sandbox.file.copy',
  'sandbox.delete',
  'project.create',
  'project.list',
  'project.delete',
  'mcp_server.create',
  'mcp_server.list',
  'mcp_server.associate',
  'mcp_server.delete',
  'org.packages.read',
  'org.usage.read',
];

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

async function waitReady(url, timeoutMs = 60_000) {
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

function startAuth(port) {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(NODE, [...nodeArgs, resolve(ROOT, 'dist/apps/auth/src/main.js')], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: dbUrl(database),
      REDIS_URL,
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
  return child;
}

function startBare() {
  return new Promise((done) => {
    const child = fork(resolve(__dirname, 'bare-server.js'), { execPath: NODE, stdio: 'inherit' });
    child.on('message', ({ address }) => done({ child, url: address }));
  });
}

/** sandbox.create, extend and delete must name their sandbox (auth answers 400 otherwise): every request names one. */
const sandboxOf = (n) => ({ type: 'sandbox', id: `SBX-${n}` });

/** One autocannon run; `pick(n)` chooses the n-th request's action. Latencies recorded one by one. */
function cannon(
  url,
  keys,
  orgId,
  options,
  pick = (n) => (n % 10 === 0 ? METERED[n % METERED.length] : NON_METERED[n % NON_METERED.length]),
) {
  let n = 0;
  const latencies = [];
  const body = () => {
    n++;
    return JSON.stringify({ key: keys[n % keys.length], action: pick(n), orgId, resource: sandboxOf(n) });
  };
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url: `${url}/v1/verify`,
        connections: options.connections,
        duration: options.duration,
        overallRate: options.rate,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-service-token': SERVICE_TOKEN },
            setupRequest: (request) => ({ ...request, body: body() }),
          },
        ],
      },
      (error, result) => (error ? fail(error) : done(Object.assign(result, { latencies }))),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
}

/**
 * Runs a scenario and adds the server's CPU time per request (independent of machine contention)
 * and how long its event loop was runnable but waiting for a core (the machine's share of the tail).
 */
async function measured(pid, label, scenario, seconds) {
  const before = cpuSeconds(pid);
  const waitBefore = runQueueWaitSeconds(pid);
  const result = await scenario();
  const used = cpuSeconds(pid) - before;
  const waited = runQueueWaitSeconds(pid) - waitBefore;
  return {
    ...summary(label, result),
    'server CPU µs/req': Math.round((used * 1e6) / result.requests.total),
    'event loop waiting for a core, ms/s': Math.round((waited * 1000) / seconds),
  };
}

/**
 * 90% non-metered and 10% metered at a fixed total rate, open loop (bench/lib/open-loop.js):
 * every 10th request is metered, answered only after Kafka acknowledged its event.
 */
async function mixed(url, keys, orgId, rate, duration) {
  const result = await openLoop({
    origin: url,
    path: '/v1/verify',
    headers: { 'content-type': 'application/json', 'x-service-token': SERVICE_TOKEN },
    rate,
    seconds: duration,
    next: (n) => {
      const metered = n % 10 === 0;
      const action = metered ? METERED[(n / 10) % METERED.length] : NON_METERED[n % NON_METERED.length];
      return {
        body: JSON.stringify({ key: keys[n % keys.length], action, orgId, resource: sandboxOf(n) }),
        tag: metered ? 'metered' : 'plain',
      };
    },
  });
  const non2xx = Object.entries(result.statuses)
    .filter(([status]) => Number(status) >= 300)
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    requests: { average: result.perSecond, total: result.sent },
    latency: { p50: result.p50, p99: result.p99, max: result.max },
    non2xx,
    errors: result.errors - non2xx,
    timeouts: 0,
    parts: { nonMeteredP99: result.p99ByTag.plain, meteredP99: result.p99ByTag.metered },
    slowWindows: result.slowWindows,
  };
}

const summary = (label, r) => ({
  scenario: label,
  'req/s (avg)': Math.round(r.requests.average),
  requests: r.requests.total,
  'p50 ms': r.latency.p50,
  'p99 ms': r.latency.p99,
  'max ms': r.latency.max,
  'non-2xx': r.non2xx,
  errors: r.errors + r.timeouts,
  ...(r.parts ? { 'p99 non-metered / metered ms': `${r.parts.nonMeteredP99} / ${r.parts.meteredP99}` } : {}),
  ...(r.slowWindows ? { '100 ms windows with an answer > 10 ms': r.slowWindows } : {}),
});

/** The run's topics and Redis keys go with it: the broker and Redis are shared. */
async function cleanUp() {
  const { Kafka, logLevel } = require('kafkajs');
  const kafkaAdmin = new Kafka({ brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await kafkaAdmin.connect();
  const topics = (await kafkaAdmin.listTopics()).filter((topic) => topic.startsWith(`${run}.`));
  if (topics.length) await kafkaAdmin.deleteTopics({ topics });
  await kafkaAdmin.disconnect();
  const Redis = require('ioredis');
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

async function main() {
  await admin(`CREATE DATABASE "${database}"`);
  const port = await freePort();
  const authUrl = `http://127.0.0.1:${port}`;
  const auth = startAuth(port);
  const bare = await startBare();
  const results = [];
  try {
    await waitReady(authUrl);
    const { signDashboardJwt } = require(resolve(ROOT, 'dist/apps/auth/src/dashboard-auth/jwt-signer.js'));
    const { ulid } = require('ulid');
    const orgId = `ORG-${ulid()}`;
    const token = signDashboardJwt(
      { sub: 'USR-bench', memberships: [{ orgId, role: 'owner' }], iss: 'tally-dashboard', aud: 'tally-auth' },
      { algorithm: 'HS256', secret: JWT_SECRET },
    );
    const keys = [];
    for (let i = 0; i < KEYS; i++) {
      const response = await fetch(`${authUrl}/v1/orgs/${orgId}/api-keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: `bench ${i}` }),
      });
      if (response.status !== 201) throw new Error(`key creation answered ${response.status}`);
      keys.push((await response.json()).key);
    }
    // Warm-up: caches, connections, the producer, JIT.
    await cannon(authUrl, keys, orgId, { connections: 10, duration: 5, rate: 1000 });
    await cannon(bare.url, keys, orgId, { connections: 10, duration: 3, rate: 1000 });

    console.log(`fixed rate ${RATE}/s for ${DURATION}s ...`);
    const bareFixed = () => mixed(bare.url, keys, orgId, RATE, DURATION);
    const authFixed = () => mixed(authUrl, keys, orgId, RATE, DURATION);
    results.push(await measured(bare.child.pid, `bare Fastify, ${RATE}/s fixed`, bareFixed, DURATION));
    results.push(await measured(auth.pid, `auth verify, ${RATE}/s fixed`, authFixed, DURATION));
    console.log(`highest rate, ${MAX_DURATION}s each ...`);
    const unthrottled = (url) => () => cannon(url, keys, orgId, { connections: 32, duration: MAX_DURATION });
    results.push(await measured(bare.child.pid, 'bare Fastify, unthrottled', unthrottled(bare.url), MAX_DURATION));
    results.push(await measured(auth.pid, 'auth verify, unthrottled', unthrottled(authUrl), MAX_DURATION));
    const metrics = await (await fetch(`${authUrl}/metrics`)).text();
    const unsent = metrics.split('\n').filter((l) => l.startsWith('auth_events_unsent_total'));
    console.log(`auth_events_unsent_total: ${unsent.length ? unsent.join('; ') : '0'}`);
    // Over the whole run (prom-client resets it at each scrape): a blocked loop vs a busy machine.
    const lag = metrics.split('\n').filter((l) => /^nodejs_eventloop_lag_(p99|max)_seconds/.test(l));
    console.log(`auth event loop lag: ${lag.join('; ')}`);
  } finally {
    auth.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await new Promise((r) => auth.once('exit', r));
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    await cleanUp().catch((error) => console.error(`cleanup: ${error.message}`));
  }
  console.log(`\nmachine: ${os.cpus().length} cores (${os.cpus()[0].model}), load average before: ${LOAD}`);
  console.table(results);
  const ratio = (a, b) => (b ? (a / b).toFixed(2) : 'n/a');
  const [bareFixed, authFixed, bareMax, authMax] = results;
  console.log(
    `p99 ratio auth/bare at ${RATE}/s: ${ratio(authFixed['p99 ms'], bareFixed['p99 ms'])}; ` +
      `throughput ratio auth/bare: ${ratio(authMax['req/s (avg)'], bareMax['req/s (avg)'])}`,
  );
  console.log(JSON.stringify(results));
}

const LOAD = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(', ');
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
