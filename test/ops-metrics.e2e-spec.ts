import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDataSource, OrganizationEntity } from '@tally/database';
import { ulid } from 'ulid';
import { parse } from 'yaml';
import { startAuth } from './auth-harness';
import { appUrl, startApp } from './apps';

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'le',
  'inf',
  'nan',
]);

/** Metric names an expression selects (functions, keywords, label matchers, ranges and strings removed). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(match.index! + match[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(match[0].toLowerCase())) continue;
    if (/^\d/.test(match[0]) || /^[0-9.e-]+$/i.test(match[0])) continue;
    names.add(match[0]);
  }
  return [...names];
}

/** Label matchers `name{k="v", ...}` in an expression, for the labels a rule relies on. */
function selectors(expr: string): { metric: string; labels: [string, string, string][] }[] {
  return [...expr.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1],
    labels: [...m[2].matchAll(/(\w+)\s*(=~|!=|=)\s*"([^"]*)"/g)].map((l) => [l[1], l[2], l[3]]),
  }));
}

/**
 * ops/prometheus/alerts.yml against the live /metrics of booted apps: every metric a rule uses is
 * registered by an app, and each equality label matcher matches a real series once the app has
 * done the thing (a verify call, a consumer poll, a reconcile).
 */
describe('ops: Prometheus rules reference real metrics', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  const apps: NestFastifyApplication[] = [];
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    ctx = await createTestContext();
    const auth = await startAuth(ctx);
    apps.push(auth.app);
    urls.auth = auth.url;
    const metering = await startApp('metering', ctx.env({ EXPIRY_INTERVAL_MS: '0', RECONCILE_INTERVAL_MS: '1000' }));
    apps.push(metering);
    urls.metering = appUrl(metering);
    const quota = await startApp('quota', ctx.env());
    apps.push(quota);
    urls.quota = appUrl(quota);
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await ctx?.dispose();
  });

  const scrape = async () =>
    (await Promise.all(Object.values(urls).map(async (u) => (await fetch(`${u}/metrics`)).text()))).join('\n');

  it('every app serves request latency per route on /metrics', async () => {
    for (const [name, u] of Object.entries(urls)) {
      await fetch(`${u}/health`);
      const text = await (await fetch(`${u}/metrics`)).text();
      expect(text).toMatch(new RegExp(`http_request_duration_seconds_count\\{[^}]*service="${name}"`));
    }
  });

  it('each rule expression names registered metrics, with labels that match live series', async () => {
    // One verify call (refused: no key) so the auth route series exists.
    const verify = await fetch(`${urls.auth}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-service-token': 'test-service-token' },
      body: JSON.stringify({ key: 'lysk-nope', action: 'sandbox.list', orgId: 'ORG-01ARZ3NDEKTSV4RRFFQ69G5FAV' }),
    });
    expect(verify.status).toBeGreaterThanOrEqual(400);
    // One admission past its caller's deadline: answered 503, counted as DEADLINE_PASSED (no dependency was down).
    const orgId = `ORG-${ulid()}`;
    const db = await createDataSource({ url: ctx.databaseUrl, poolSize: 1 }).initialize();
    await db.getRepository(OrganizationEntity).insert({ id: orgId, name: 'ops-metrics' });
    await db.destroy();
    const late = await fetch(`${urls.quota}/v1/admissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-service-token': 'test-service-token', 'x-deadline-ms': '0' },
      body: JSON.stringify({ orgId, keyId: 'key1', admissionId: ulid(), action: 'agent.run' }),
    });
    expect(late.status).toBe(503);
    const rules = parse(readFileSync(join(__dirname, '..', 'ops', 'prometheus', 'alerts.yml'), 'utf8')) as {
      groups: { name: string; rules: { alert: string; expr: string }[] }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'MeteringConsumerLagHigh',
        'DeadLetterGrowth',
        'LedgerInvariantDrift',
        'VerifyErrorRate',
        'VerifyKeyGuessing',
        'AdmissionsFailingClosed',
      ]),
    );
    // Wait for the lag poll and a reconcile to have produced their series.
    const text = await expectEventually(async () => {
      const t = await scrape();
      expect(t).toMatch(/^tally_consumer_lag\{/m);
      expect(t).toMatch(/^tally_dlq_messages\{/m);
      return t;
    }, 20_000);
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    // Metering's additions, whether or not a rule uses them.
    for (const [name, type] of [
      ['tally_consumer_lag', 'gauge'],
      ['tally_dlq_messages', 'gauge'],
      ['tally_ledger_batch_events', 'histogram'],
      ['tally_ledger_postings_total', 'counter'],
      ['tally_reconcile_drift_orgs', 'gauge'],
      ['tally_webhook_attempts_total', 'counter'],
      ['tally_decisions_total', 'counter'],
    ])
      expect([name, types.get(name)]).toEqual([name, type]);
    // Decisions by action and code, from both decision services.
    expect(text).toMatch(/^tally_decisions_total\{action="sandbox.list",code="INVALID_API_KEY",service="auth"\} 1$/m);
    expect(text).toMatch(/^tally_decisions_total\{action="agent.run",code="DEADLINE_PASSED",service="quota"\} 1$/m);
    expect(text).toMatch(
      /^tally_decisions_total\{action="agent.run",code="DEPENDENCY_UNAVAILABLE",service="quota"\} 0$/m,
    );
    const registered = (name: string) => {
      if (types.has(name)) return true;
      const base = name.replace(/_(bucket|count|sum)$/, '');
      return base !== name && types.get(base) === 'histogram';
    };
    for (const rule of all) {
      const names = metricNames(rule.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names)
        expect({ rule: rule.alert, name, registered: registered(name) }).toEqual({
          rule: rule.alert,
          name,
          registered: true,
        });
      for (const { metric, labels } of selectors(rule.expr)) {
        for (const [label, op, value] of labels) {
          if (op !== '=') continue;
          const series = new RegExp(
            `^${metric}\\{[^}]*${label}="${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`,
            'm',
          );
          expect({ rule: rule.alert, selector: `${metric}{${label}="${value}"}`, live: series.test(text) }).toEqual({
            rule: rule.alert,
            selector: `${metric}{${label}="${value}"}`,
            live: true,
          });
        }
      }
    }
  });

  it('the expression parser finds metric names and skips functions, keywords and labels', () => {
    expect(metricNames('sum by (group) (rate(foo_total{a="b"}[5m])) / clamp_min(bar, 1e-9) > 0.01').sort()).toEqual([
      'bar',
      'foo_total',
    ]);
  });
});
