// Ops usage benchmark: metering's GET /v1/orgs/:orgId/usage for one organization over 90 days of
// hourly roll-ups, with 1,000 organizations seeded (the built app, as its own process). Baselines
// in the same run: GET /ops (a static page) on the same process (HTTP + Nest floor) and the endpoint's SQL
// straight through pg (database floor).
//
//   npm run build && node_modules/.bin/node bench/ops-usage/run.js
//
// Env: BENCH_ORGS (1000), BENCH_DAYS (90), BENCH_SECONDS (15), BENCH_CONNECTIONS (4),
// DATABASE_URL (a scratch database is created on that server and dropped after),
// REDIS_URL (redis://127.0.0.1:6379), KAFKA_BROKERS (127.0.0.1:9092). Targets 127.0.0.1 only.
/* global performance, fetch, URL */
'use strict';
const { spawn } = require('node:child_process');
const { createServer } = require('node:net');
const { resolve } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { randomBytes } = require('node:crypto');
const autocannon = require('autocannon');
const { Client } = require('pg');
const { ulid } = require('ulid');

const ROOT = resolve(__dirname, '../..');
const { createDataSource, runMigrations } = require(resolve(ROOT, 'dist/libs/database/src'));

const ORGS = Number(process.env.BENCH_ORGS ?? 1000);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = 'bench-service-token';
const HOUR = 3_600_000;

const freePort = () =>
  new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

const withDatabase = (url, database) => {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
};

const run = (opts) =>
  new Promise((done, fail) => autocannon(opts, (error, result) => (error ? fail(error) : done(result))));

const summary = (name, r) => ({
  name,
  requests: r.requests.total,
  rps: Math.round(r.requests.average),
  p50: r.latency.p50,
  p90: r.latency.p90,
  p99: r.latency.p99,
  max: r.latency.max,
  non2xx: r.non2xx,
  errors: r.errors,
});

async function main() {
  const database = `tally_bench_ops_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: BASE_DB });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = withDatabase(BASE_DB, database);
  let metering;
  try {
    const ds = await createDataSource({ url, poolSize: 2 }).initialize();
    await runMigrations(ds);
    await ds.destroy();
    const db = new Client({ connectionString: url });
    db.on('error', () => undefined); // the scratch database is dropped under it at the end
    await db.connect();
    const orgIds = Array.from({ length: ORGS }, () => `ORG-${ulid()}`);
    const target = orgIds[0];
    const end = Math.floor(Date.now() / HOUR) * HOUR;
    const start = end - DAYS * 24 * HOUR;
    let t = performance.now();
    await db.query(`INSERT INTO organizations (id, name) SELECT id, 'bench' FROM unnest($1::varchar[]) AS t(id)`, [
      orgIds,
    ]);
    await db.query(
      `INSERT INTO packages (org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining, source, external_id)
       SELECT id, 360000000000, 360000000000, 100000000, 100000000, 'bench', 'seed' FROM unnest($1::varchar[]) AS t(id)`,
      [orgIds],
    );
    // Every org: one roll-up row per hour (agent runs of one key); the measured org: four rows per
    // hour (two keys, runtime, agent usage) so its groupings group something. Inserted hour by
    // hour across all orgs, as the consumer writes them: an org's rows are spread over the table.
    await db.query(
      `INSERT INTO usage_rollups (org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)
       SELECT r.* FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 hour', interval '1 hour') AS h
        CROSS JOIN LATERAL (
          SELECT o.id, h, 'key-1', 'agent.run', '', 'action', 3::bigint, 0::bigint, 3000::bigint
            FROM unnest($1::varchar[]) AS o(id)
          UNION ALL
          SELECT $4::varchar, h, k.key_id, k.action, k.shape, k.kind, 2::bigint, k.sandbox::bigint, k.agent::bigint
            FROM (VALUES ('key-2', 'agent.run', '', 'action', 0, 2000),
                         ('', 'sandbox.heartbeat', 'small', 'sandbox_runtime', 1800000, 0),
                         ('', 'agent.consumed', '', 'inference', 0, 1234)) AS k(key_id, action, shape, kind, sandbox, agent)
        ) AS r(org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)`,
      [orgIds, new Date(start), new Date(end), target],
    );
    await db.query('ANALYZE');
    const [{ n }] = (await db.query('SELECT COUNT(*)::int AS n FROM usage_rollups')).rows;
    const seedSeconds = ((performance.now() - t) / 1000).toFixed(1);
    console.log(`seeded ${ORGS} orgs, ${n} roll-up rows (${DAYS} days hourly) in ${seedSeconds} s`);

    const port = await freePort();
    metering = spawn(process.execPath, [resolve(ROOT, 'dist/apps/metering/src/main.js')], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: `bench-ops-${database}:`,
        KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
        KAFKA_TOPIC_PREFIX: `bench-ops-${database}.`,
        SERVICE_TOKENS: TOKEN,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        NOTIFIER: 'false',
        OUTBOX_RELAY: 'false',
        EXPIRY_INTERVAL_MS: '0',
        RECONCILE_INTERVAL_MS: '0',
        MIGRATE_ON_START: 'false',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/ops`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 300) throw new Error('metering did not start');
      await sleep(200);
    }

    const from = new Date(start).toISOString();
    const to = new Date(end).toISOString();
    const headers = { 'x-service-token': TOKEN };
    const hourly = `/v1/orgs/${target}/usage?from=${from}&to=${to}&granularity=hour`;
    const check = await (await fetch(`${base}${hourly}`, { headers })).json();
    console.log(`hourly series: ${check.series.length} points, totals ${JSON.stringify(check.totals)}`);
    if (check.series.length !== DAYS * 24) throw new Error('unexpected series length');

    const sql = `SELECT hour AS start, SUM(event_count)::text AS events, SUM(sandbox_ms)::text AS sandbox,
                        SUM(agent_mc)::text AS agent
                   FROM usage_rollups WHERE org_id = $1 AND hour >= $2 AND hour < $3 GROUP BY 1 ORDER BY 1`;
    const params = [target, new Date(start), new Date(end)];
    const results = [];
    /** One measured phase: HTTP floor, the three usage shapes, the SQL alone. */
    const phase = async (label) => {
      // Warm-up (JIT, plan cache, buffers), not measured.
      await run({ url: `${base}${hourly}`, headers, connections: CONNECTIONS, duration: 3 });
      const http = (name, path) => run({ url: `${base}${path}`, headers, connections: CONNECTIONS, duration: SECONDS });
      results.push(summary(`${label} GET /ops, static page (HTTP floor)`, await http('', '/ops')));
      for (const [name, path] of [
        ['usage 90 d, granularity=hour', hourly],
        ['usage 90 d, granularity=day', `/v1/orgs/${target}/usage?from=${from}&to=${to}&granularity=day`],
        ['usage 90 d, hour, groupBy=kind', `${hourly}&groupBy=kind`],
      ])
        results.push(summary(`${label} ${name}`, await http(name, path)));
      const plan = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      console.log(`${label} plan:\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}`);
      // The endpoint's SQL alone, serially through pg (database floor), for the hourly case.
      const samples = [];
      const deadline = performance.now() + SECONDS * 1000;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await db.query(sql, params);
        samples.push(performance.now() - t0);
      }
      samples.sort((x, y) => x - y);
      const pct = (p) =>
        Number(samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))].toFixed(2));
      results.push({
        name: `${label} SQL only (pg, serial), hourly`,
        requests: samples.length,
        p50: pct(50),
        p90: pct(90),
        p99: pct(99),
        max: pct(100),
      });
    };
    await db.query('VACUUM ANALYZE usage_rollups');
    await phase('[A: schema as migrated]');
    // Phase B: the same with a covering index (an index-only scan instead of one heap page per
    // row). Not in the migrations: it makes every roll-up upsert a non-HOT update; see BENCHMARKS.
    t = performance.now();
    await db.query(
      'CREATE INDEX bench_usage_rollups_cover ON usage_rollups (org_id, hour) INCLUDE (key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)',
    );
    await db.query('VACUUM ANALYZE usage_rollups');
    console.log(`covering index built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await phase('[B: + covering index]');
    await db.end();
    console.table(results);
    console.log(
      JSON.stringify({ orgs: ORGS, days: DAYS, rollupRows: n, connections: CONNECTIONS, seconds: SECONDS, results }),
    );
  } catch (error) {
    console.error(error);
    throw error;
  } finally {
    metering?.kill('SIGTERM');
    await sleep(1000);
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
