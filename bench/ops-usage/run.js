// Ops usage benchmark: metering's GET /v1/orgs/:orgId/usage for one organization over 90 days of
// hourly roll-ups, with 1,000 organizations seeded (the built app, as its own process). Baselines
// in the same run: GET /ops (a static page) on the same process (HTTP + Nest floor) and the
// endpoint's repository call alone (its SQL through TypeORM and pg: database + driver floor).
//
//   npm run build && node_modules/.bin/node bench/ops-usage/run.js
//
// Phases: A, the schema as migrated (the roll-ups' primary keys INCLUDE their counters: index-only
// scans); B, the same data with plain primary keys (the schema before that migration), for the
// trade-off: each phase also times roll-up upserts as the ledger writes them (µs and WAL per row).
//
// Env: BENCH_ORGS (1000), BENCH_DAYS (90), BENCH_SECONDS (15), BENCH_CONNECTIONS (4),
// BENCH_REPO_SECONDS (5, per repository measurement), BENCH_UPSERT_BATCHES (1000, of 200 rows),
// DATABASE_URL (a scratch database is created on that server and dropped after),
// REDIS_URL (redis://127.0.0.1:6379), KAFKA_BROKERS (127.0.0.1:9092). Targets 127.0.0.1 only.
/* global performance, fetch, URL */
'use strict';
const { spawn } = require('node:child_process');
const { freePort } = require('../lib/free-port');
const { resolve } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { randomBytes } = require('node:crypto');
const { loadavg } = require('node:os');
const autocannon = require('autocannon');
const { Client } = require('pg');
const { ulid } = require('ulid');

const ROOT = resolve(__dirname, '../..');
const { createDataSource, runMigrations } = require(resolve(ROOT, 'dist/libs/database/src'));
const { createKafka, deleteTopicsWithPrefix } = require(resolve(ROOT, 'dist/libs/kafka/src'));
const { OpsRepository } = require(resolve(ROOT, 'dist/apps/metering/src/ops/ops.repository'));

const ORGS = Number(process.env.BENCH_ORGS ?? 1000);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const REPO_SECONDS = Number(process.env.BENCH_REPO_SECONDS ?? 5);
const UPSERT_BATCHES = Number(process.env.BENCH_UPSERT_BATCHES ?? 1000);
const UPSERT_ROWS = 200;
const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TOKEN = 'bench-service-token';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

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

/** Latency percentiles of sorted samples (ms). */
const percentiles = (samples) => {
  samples.sort((x, y) => x - y);
  const pct = (p) => Number(samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))].toFixed(2));
  return { requests: samples.length, p50: pct(50), p90: pct(90), p99: pct(99), max: pct(100) };
};

/** Calls `fn` serially for `seconds`, after a short warm-up; its latency percentiles. */
const serially = async (seconds, fn) => {
  for (let i = 0; i < 20; i++) await fn();
  const samples = [];
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return percentiles(samples);
};

async function seed(db, orgIds, target, start, end) {
  // Every org, every hour: one sandbox's runtime (a row in each roll-up table; a sandbox lives 6
  // hours). The measured org also has agent runs of two keys and agent usage, and its runtime is
  // split over two overlapping sandboxes, so every grouping groups something: 4 roll-up rows and 2
  // sandbox rows per hour. Inserted hour by hour across all orgs, as the consumer writes them: an
  // org's rows are spread over the table.
  const hours = `generate_series($2::timestamptz, $3::timestamptz - interval '1 hour', interval '1 hour') AS h`;
  const generation = (offsetHours) => `((extract(epoch FROM h)::bigint + ${offsetHours * 3600}) / 21600)`;
  await db.query(
    `INSERT INTO usage_rollups (org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)
     SELECT r.* FROM ${hours}
      CROSS JOIN LATERAL (
        SELECT o.id, h, '', 'sandbox.heartbeat', 'small', 'sandbox_runtime', 3::bigint, 1800000::bigint, 0::bigint
          FROM unnest($1::varchar[]) AS o(id)
        UNION ALL
        SELECT $4::varchar, h, k.key_id, k.action, '', k.kind, k.n::bigint, 0::bigint, k.agent::bigint
          FROM (VALUES ('key-1', 'agent.run', 'action', 3, 3000), ('key-2', 'agent.run', 'action', 2, 2000),
                       ('', 'agent.consumed', 'inference', 2, 1234)) AS k(key_id, action, kind, n, agent)
      ) AS r(org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)`,
    [orgIds, new Date(start), new Date(end), target],
  );
  await db.query(
    `INSERT INTO sandbox_usage_rollups (org_id, hour, sandbox_id, event_count, sandbox_ms, agent_mc)
     SELECT r.* FROM ${hours}
      CROSS JOIN LATERAL (
        SELECT o.id, h, 'sbx-' || left(md5(o.id || ${generation(0)}), 22), 3::bigint, 1800000::bigint, 0::bigint
          FROM unnest($1::varchar[]) AS o(id) WHERE o.id <> $4
        UNION ALL
        SELECT $4::varchar, h, s.id, s.n, s.ms, 0::bigint
          FROM (VALUES ('sbx-a' || ${generation(0)}, 2::bigint, 1200000::bigint),
                       ('sbx-b' || ${generation(3)}, 1::bigint, 600000::bigint)) AS s(id, n, ms)
      ) AS r(org_id, hour, sandbox_id, event_count, sandbox_ms, agent_mc)`,
    [orgIds, new Date(start), new Date(end), target],
  );
}

/**
 * Roll-up upserts as the ledger's posting writes them (one statement, both tables, in a
 * transaction): UPSERT_ROWS grain rows of random orgs per batch, the runtime ones also per sandbox,
 * all in one hour past the seeded ones, so most are updates of rows earlier batches wrote (the
 * current hour's rows, over and over). Per row upserted: time, WAL bytes, share of HOT updates.
 */
async function upserts(db, orgIds, hour) {
  let seed = 7;
  const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
  const grains = [
    ['', 'sandbox.heartbeat', 'small', 'sandbox_runtime', 60_000, 0],
    ['key-1', 'agent.run', '', 'action', 0, 1_000],
    ['', 'agent.consumed', '', 'inference', 0, 700],
  ];
  const stats = async () =>
    (
      await db.query(
        `SELECT pg_current_wal_lsn()::text AS lsn, SUM(n_tup_upd)::int AS updates, SUM(n_tup_hot_upd)::int AS hot
           FROM pg_stat_user_tables WHERE relname IN ('usage_rollups', 'sandbox_usage_rollups')`,
      )
    ).rows[0];
  await db.query('SELECT pg_stat_clear_snapshot()');
  const before = await stats();
  let upserted = 0;
  const t0 = performance.now();
  for (let b = 0; b < UPSERT_BATCHES; b++) {
    const rows = new Map();
    while (rows.size < Math.min(UPSERT_ROWS, orgIds.length * grains.length)) {
      const org = orgIds[Math.floor(random() * orgIds.length)];
      const grain = grains[Math.floor(random() * grains.length)];
      rows.set(`${org}|${grain[0]}|${grain[3]}`, [org, ...grain]);
    }
    const grainRows = [...rows.values()];
    const sandboxRows = grainRows.filter((r) => r[4] === 'sandbox_runtime');
    const column = (list, i) => list.map((r) => r[i]);
    await db.query('BEGIN');
    await db.query(
      `WITH w_rollups AS (
         INSERT INTO usage_rollups (org_id, hour, key_id, action, shape, kind, event_count, sandbox_ms, agent_mc)
         SELECT v.org_id, $1, v.key_id, v.action, v.shape, v.kind, 1, v.ms, v.mc
           FROM unnest($2::varchar[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
                  AS v(org_id, key_id, action, shape, kind, ms, mc)
         ON CONFLICT (org_id, hour, key_id, action, shape, kind) DO UPDATE SET
           event_count = usage_rollups.event_count + excluded.event_count,
           sandbox_ms = usage_rollups.sandbox_ms + excluded.sandbox_ms, agent_mc = usage_rollups.agent_mc + excluded.agent_mc),
       w_sandbox_rollups AS (
         INSERT INTO sandbox_usage_rollups (org_id, hour, sandbox_id, event_count, sandbox_ms, agent_mc)
         SELECT v.org_id, $1, 'sbx-live', 1, 60000, 0 FROM unnest($9::varchar[]) AS v(org_id)
         ON CONFLICT (org_id, hour, sandbox_id) DO UPDATE SET
           event_count = sandbox_usage_rollups.event_count + excluded.event_count,
           sandbox_ms = sandbox_usage_rollups.sandbox_ms + excluded.sandbox_ms)
       SELECT 1`,
      [hour, ...[0, 1, 2, 3, 4, 5, 6].map((i) => column(grainRows, i)), column(sandboxRows, 0)],
    );
    await db.query('COMMIT');
    upserted += grainRows.length + sandboxRows.length;
  }
  const ms = performance.now() - t0;
  await sleep(1_000); // table statistics are flushed about once a second
  await db.query('SELECT pg_stat_clear_snapshot()');
  const after = await stats();
  const [{ wal }] = (await db.query('SELECT pg_wal_lsn_diff($1, $2)::bigint AS wal', [after.lsn, before.lsn])).rows;
  await db.query('DELETE FROM usage_rollups WHERE hour = $1', [hour]);
  await db.query('DELETE FROM sandbox_usage_rollups WHERE hour = $1', [hour]);
  await db.query('VACUUM ANALYZE usage_rollups, sandbox_usage_rollups');
  return {
    rowsUpserted: upserted,
    usPerRow: Number(((ms * 1000) / upserted).toFixed(1)),
    walBytesPerRow: Math.round(Number(wal) / upserted),
    hotUpdatePct: Math.round((100 * (after.hot - before.hot)) / Math.max(1, after.updates - before.updates)),
  };
}

async function main() {
  const database = `tally_bench_ops_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: BASE_DB });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = withDatabase(BASE_DB, database);
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const topicPrefix = `bench-ops-${database}.`;
  let metering;
  let ds;
  try {
    ds = await createDataSource({ url, poolSize: 2 }).initialize();
    await runMigrations(ds);
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
    await seed(db, orgIds, target, start, end);
    await db.query('VACUUM ANALYZE');
    const count = async (table) => (await db.query(`SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0].n;
    const rollupRows = await count('usage_rollups');
    const sandboxRows = await count('sandbox_usage_rollups');
    const seedSeconds = ((performance.now() - t) / 1000).toFixed(1);
    console.log(
      `seeded ${ORGS} orgs, ${rollupRows} roll-up rows and ${sandboxRows} sandbox roll-up rows (${DAYS} days hourly) in ${seedSeconds} s`,
    );

    const port = await freePort();
    metering = spawn(process.execPath, [resolve(ROOT, 'dist/apps/metering/src/main.js')], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: `bench-ops-${database}:`,
        KAFKA_BROKERS: brokers,
        KAFKA_TOPIC_PREFIX: topicPrefix,
        SERVICE_TOKENS: TOKEN,
        TALLY_ENV: 'development',
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
    const usage = (granularity, groupBy) =>
      `/v1/orgs/${target}/usage?from=${from}&to=${to}&granularity=${granularity}${groupBy ? `&groupBy=${groupBy}` : ''}`;
    // Each with the points the seed implies: one per hour or (UTC) day; three per hour by kind (action,
    // runtime, inference) and by sandbox (two sandboxes, and the agent usage outside them).
    const requests = [
      ['usage 90 d, granularity=hour', 'hour', null, DAYS * 24],
      ['usage 90 d, granularity=day', 'day', null, Math.ceil(end / DAY) - Math.floor(start / DAY)],
      ['usage 90 d, hour, groupBy=kind', 'hour', 'kind', 3 * DAYS * 24],
      ['usage 90 d, hour, groupBy=sandbox', 'hour', 'sandbox', 3 * DAYS * 24],
    ];
    for (const [name, granularity, groupBy, points] of requests) {
      const answer = await (await fetch(`${base}${usage(granularity, groupBy)}`, { headers })).json();
      if (answer.series.length !== points || answer.totals.events !== String(10 * DAYS * 24))
        throw new Error(
          `unexpected answer to ${name}: ${answer.series.length} points, ${JSON.stringify(answer.totals)}`,
        );
    }
    console.log('answers checked (series lengths and totals)');

    const repo = new OpsRepository(ds);
    // The SQL the repository sent last, for EXPLAIN.
    let lastQuery;
    const query = ds.query.bind(ds);
    ds.query = (sql, params) => {
      lastQuery = { sql, params };
      return query(sql, params);
    };
    const window = [target, new Date(start), new Date(end)];
    const results = [];
    /** One measured phase: HTTP floor, the usage requests, their repository calls alone, upserts. */
    const phase = async (label) => {
      // Warm-up (JIT, plan cache, buffers), not measured.
      await run({ url: `${base}${usage('hour', null)}`, headers, connections: CONNECTIONS, duration: 3 });
      const http = (path) => run({ url: `${base}${path}`, headers, connections: CONNECTIONS, duration: SECONDS });
      results.push(summary(`${label} GET /ops, static page (HTTP floor)`, await http('/ops')));
      for (const [name, granularity, groupBy] of requests)
        results.push(summary(`${label} ${name}`, await http(usage(granularity, groupBy))));
      for (const [name, granularity, groupBy] of requests.filter(([, g]) => g === 'hour')) {
        const timing = await serially(REPO_SECONDS, () => repo.usage(...window, granularity, groupBy));
        results.push({ name: `${label} ${name}: repository alone (SQL + pg, serial)`, ...timing });
        const plan = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${lastQuery.sql}`, lastQuery.params);
        const lines = plan.rows.map((r) => r['QUERY PLAN']);
        console.log(`${label} ${name} plan:\n${lines.filter((l) => !/^\s+Buffers|Planning/.test(l)).join('\n')}`);
      }
      const writes = await upserts(db, orgIds, new Date(end + HOUR));
      results.push({
        name: `${label} roll-up upserts (${UPSERT_ROWS} grain rows a statement)`,
        ...writes,
      });
      console.log(`${label} upserts: ${JSON.stringify(writes)}`);
    };
    await phase('[A: as migrated]');
    // Phase B: the same rows with plain primary keys (no INCLUDE), as before the migration that
    // made the roll-ups' keys covering.
    t = performance.now();
    for (const [table, columns] of [
      ['usage_rollups', 'org_id, hour, key_id, action, shape, kind'],
      ['sandbox_usage_rollups', 'org_id, hour, sandbox_id'],
    ]) {
      const [{ conname }] = (
        await db.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, [table])
      ).rows;
      await db.query(
        `ALTER TABLE ${table} DROP CONSTRAINT "${conname}", ADD CONSTRAINT "${conname}" PRIMARY KEY (${columns})`,
      );
    }
    await db.query('VACUUM ANALYZE usage_rollups, sandbox_usage_rollups');
    console.log(`plain primary keys rebuilt in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await phase('[B: plain primary keys]');
    await db.end();
    console.table(results);
    console.log(
      JSON.stringify({
        orgs: ORGS,
        days: DAYS,
        rollupRows,
        sandboxRows,
        connections: CONNECTIONS,
        seconds: SECONDS,
        loadAverage: loadavg()
          .map((x) => x.toFixed(2))
          .join(' '),
        results,
      }),
    );
  } catch (error) {
    console.error(error);
    throw error;
  } finally {
    metering?.kill('SIGTERM');
    await ds?.destroy().catch(() => undefined);
    await sleep(1000);
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
    // The topics metering created at start: a broker that keeps every run's partitions runs out of heap.
    await deleteTopicsWithPrefix(createKafka('bench-ops-cleanup', brokers.split(',')), topicPrefix).catch(() => 0);
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
