import { DEFAULT_KEY_PREFIX, Dependency, DEPENDENCY_NAMES } from '@tally/contracts';
import { createDataSource, DemoOrganization, runMigrations, seedDemoOrganization } from '@tally/database';
import { TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { authEnv, quotaEnv, SERVICE_TOKEN, userToken } from './auth-harness';
import { appUrl, startApp } from './apps';

/**
 * Shared by the outage tests (issue 16): the three apps on one set of dependencies (some of them a
 * test's private instance), every HTTP endpoint of every app, and the rule they are held to while a
 * dependency is down: an answer within 2 s, 2xx where a cache serves it or 503
 * DEPENDENCY_UNAVAILABLE naming the dependency, never a 500 or a hang.
 */
export type StackApp = 'quota' | 'auth' | 'metering';

export interface Stack {
  urls: Record<StackApp, string>;
  apps: NestFastifyApplication[];
  db: DataSource;
  demo: DemoOrganization;
  /** Resources the probes read or change: a spare API key (revoked by a probe), a webhook endpoint. */
  spareKeyId: string;
  webhookId: string;
  close(): Promise<void>;
}

/** Where the stack's PostgreSQL, Redis and Kafka are (the context's unless overridden). */
export async function startStack(
  ctx: TestContext,
  deps: { DATABASE_URL?: string; REDIS_URL?: string; KAFKA_BROKERS?: string } = {},
  extra: Partial<Record<StackApp, Record<string, string>>> = {},
): Promise<Stack> {
  const db = await createDataSource({ url: deps.DATABASE_URL ?? ctx.databaseUrl, poolSize: 2 }).initialize();
  await runMigrations(db);
  // metering's own credential towards auth (it must differ from the ones metering accepts).
  const meteringToAuth = 'test-metering-to-auth-token-0123456789';
  const env = authEnv(ctx, { ...deps, SERVICE_TOKENS: `${SERVICE_TOKEN},${meteringToAuth}` });
  const demo = await seedDemoOrganization(db, {
    keyPrefix: DEFAULT_KEY_PREFIX,
    pepper: env.API_KEY_PEPPER,
    sandboxMs: 100n * 3_600_000n,
    agentMc: 1_000_000n,
  });
  const apps: NestFastifyApplication[] = [];
  const close = async () => {
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    await db.destroy().catch(() => undefined);
  };
  try {
    const quota = await startApp('quota', ctx.env({ ...deps, ...extra.quota }));
    apps.push(quota);
    const auth = await startApp('auth', { ...env, ...quotaEnv(appUrl(quota)), ...extra.auth });
    apps.push(auth);
    const metering = await startApp(
      'metering',
      ctx.env({
        ...deps,
        AUTH_URL: appUrl(auth),
        AUTH_SERVICE_TOKEN: meteringToAuth,
        EXPIRY_INTERVAL_MS: '0',
        CONSUMER_MAX_BACKOFF_MS: '500',
        ...extra.metering,
      }),
    );
    apps.push(metering);
    const urls = { quota: appUrl(quota), auth: appUrl(auth), metering: appUrl(metering) };
    const created = async (url: string, headers: Record<string, string>, body: unknown) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      if (response.status !== 201) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    };
    const spareKeyId = await created(`${urls.auth}/v1/orgs/${demo.orgId}/api-keys`, ownerOf(demo), { name: 'spare' });
    const webhookId = await created(`${urls.metering}/v1/orgs/${demo.orgId}/webhooks`, service, {
      url: 'http://127.0.0.1:9/hook',
    });
    return { urls, apps, db, demo, spareKeyId, webhookId, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Endpoint {
  app: StackApp;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const service = { 'x-service-token': SERVICE_TOKEN };
const ownerOf = (demo: DemoOrganization) => ({
  authorization: `Bearer ${userToken(demo.userId, [{ orgId: demo.orgId, role: 'owner' }])}`,
});

/** Every route of every app (docs and the metrics included), each with a request that reaches its dependencies. */
export function everyEndpoint({ demo, spareKeyId, webhookId }: Stack): Endpoint[] {
  const org = demo.orgId;
  const owner = ownerOf(demo);
  const apiKey = { 'x-api-key': demo.apiKey };
  const common = (app: StackApp): Endpoint[] => [
    { app, method: 'GET', path: '/health/live' },
    { app, method: 'GET', path: '/health/ready' },
    { app, method: 'GET', path: '/metrics' },
    { app, method: 'GET', path: '/docs/openapi.json' },
  ];
  const webhook = webhookId;
  return [
    ...common('auth'),
    {
      app: 'auth',
      method: 'POST',
      path: '/v1/verify',
      headers: service,
      body: { key: demo.apiKey, action: 'sandbox.list', orgId: org },
    },
    {
      app: 'auth',
      method: 'POST',
      path: '/v1/verify',
      headers: service,
      body: { key: demo.apiKey, action: 'agent.run', orgId: org, resource: { type: 'agent', id: `run-${ulid()}` } },
    },
    { app: 'auth', method: 'POST', path: `/v1/orgs/${org}/api-keys`, headers: owner, body: { name: 'outage' } },
    { app: 'auth', method: 'GET', path: `/v1/orgs/${org}/api-keys?scope=org`, headers: owner },
    { app: 'auth', method: 'DELETE', path: `/v1/orgs/${org}/api-keys/${spareKeyId}`, headers: owner },
    {
      app: 'auth',
      method: 'POST',
      path: '/v1/authorize',
      headers: owner,
      body: { action: 'billing.read', orgId: org },
    },
    ...common('quota'),
    {
      app: 'quota',
      method: 'POST',
      path: '/v1/admissions',
      headers: service,
      body: {
        orgId: org,
        keyId: demo.keyId,
        action: 'sandbox.create',
        params: { shape: 'small', maxLifeSeconds: 60 },
        admissionId: ulid(),
      },
    },
    { app: 'quota', method: 'DELETE', path: `/v1/admissions/${ulid()}?orgId=${org}`, headers: service },
    { app: 'quota', method: 'GET', path: `/v1/orgs/${org}/balances`, headers: service },
    // An org quota has never loaded: only PostgreSQL knows it.
    { app: 'quota', method: 'GET', path: `/v1/orgs/ORG-${ulid()}/balances`, headers: service },
    ...common('metering'),
    { app: 'metering', method: 'GET', path: '/ops' },
    { app: 'metering', method: 'GET', path: `/v1/orgs/${org}/balances`, headers: service },
    { app: 'metering', method: 'GET', path: `/v1/orgs/${org}/usage`, headers: service },
    { app: 'metering', method: 'GET', path: `/v1/orgs/${org}/ledger`, headers: service },
    { app: 'metering', method: 'GET', path: `/v1/orgs/${org}/alerts`, headers: service },
    { app: 'metering', method: 'GET', path: '/v1/usage/top?kind=agent', headers: service },
    { app: 'metering', method: 'GET', path: `/v1/orgs/${org}/packages`, headers: service },
    {
      app: 'metering',
      method: 'POST',
      path: `/v1/orgs/${org}/packages`,
      headers: service,
      body: { sandboxHours: '1', agentCredits: '0', source: 'outage-test', externalId: `outage-${ulid()}` },
    },
    {
      app: 'metering',
      method: 'POST',
      path: `/v1/orgs/${org}/webhooks`,
      headers: service,
      body: { url: 'http://127.0.0.1:9/hook' },
    },
    {
      app: 'metering',
      method: 'POST',
      path: '/v1/ops/webhooks',
      headers: service,
      body: { url: 'http://127.0.0.1:9/hook' },
    },
    { app: 'metering', method: 'GET', path: `/v1/webhooks/${webhook}`, headers: service },
    { app: 'metering', method: 'GET', path: `/v1/webhooks/${webhook}/deliveries`, headers: service },
    { app: 'metering', method: 'GET', path: `/api/orgs/${org}/packages`, headers: apiKey },
    { app: 'metering', method: 'GET', path: `/api/orgs/${org}/usage`, headers: apiKey },
    { app: 'metering', method: 'GET', path: `/api/orgs/${org}/stats`, headers: apiKey },
  ];
}

export interface Probe {
  endpoint: Endpoint;
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

/** One call, cut off at 5 s (a hang is reported as status 0 with its time, not as a test timeout). */
export async function probe(urls: Record<StackApp, string>, endpoint: Endpoint): Promise<Probe> {
  const started = performance.now();
  try {
    const response = await fetch(`${urls[endpoint.app]}${endpoint.path}`, {
      method: endpoint.method,
      headers: { ...(endpoint.body !== undefined ? { 'content-type': 'application/json' } : {}), ...endpoint.headers },
      body: endpoint.body !== undefined ? JSON.stringify(endpoint.body) : undefined,
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      body = text && text.startsWith('{') ? JSON.parse(text) : {};
    } catch {
      body = { unparsed: text.slice(0, 200) };
    }
    return { endpoint, status: response.status, body, ms: performance.now() - started };
  } catch (error) {
    return { endpoint, status: 0, body: { error: (error as Error).message }, ms: performance.now() - started };
  }
}

/**
 * Each endpoint's answer that breaks the rule, described (empty: every one kept it): a 503 names
 * the dependency and, outside /health, whether the decision failed open or closed.
 */
export function brokenRules(probes: Probe[], dependency: Dependency): string[] {
  const named = new RegExp(`${dependency}|${DEPENDENCY_NAMES[dependency]}`, 'i');
  return probes
    .filter(({ endpoint, status, body, ms }) => {
      if (ms >= 2_000) return true;
      if (status >= 200 && status < 300) return false;
      const message = String(body.message);
      return !(
        status === 503 &&
        body.code === 'DEPENDENCY_UNAVAILABLE' &&
        named.test(message) &&
        (endpoint.path.startsWith('/health/') || /failed (closed|open)/.test(message))
      );
    })
    .map(
      ({ endpoint, status, body, ms }) =>
        `${endpoint.app} ${endpoint.method} ${endpoint.path.replace(/ORG-\w+/, 'ORG-…')}: ${status} in ${ms.toFixed(0)} ms ${JSON.stringify(body).slice(0, 240)}`,
    );
}

/** Every endpoint probed one after another (a down dependency must not need concurrency to be answered). */
export async function probeAll(stack: Stack): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (const endpoint of everyEndpoint(stack)) probes.push(await probe(stack.urls, endpoint));
  return probes;
}

/** Resolves with how long it took until every app's /health/ready answered 200. */
export async function readyAgain(stack: Stack, withinMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const answers = await Promise.all(
      Object.entries(stack.urls).map(([app, url]) =>
        fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(3_000) }).then(
          async (response) => ({ app, status: response.status, body: await response.text() }),
          (error: Error) => ({ app, status: 0, body: error.message }),
        ),
      ),
    );
    const elapsed = performance.now() - started;
    if (answers.every(({ status }) => status === 200)) return elapsed;
    if (elapsed > withinMs) {
      const notReady = answers.filter(({ status }) => status !== 200).map((a) => `${a.app} ${a.status} ${a.body}`);
      throw new Error(`not every app ready ${withinMs} ms after recovery: ${notReady.join('; ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A metered agent.run verified through auth (1 agent credit); counts the ones auth acknowledged (200). */
export function meteredActions(stack: Stack) {
  let acknowledged = 0;
  return {
    get acknowledged() {
      return acknowledged;
    },
    /** Adds what a probe of every endpoint acknowledged (its agent.run verify). */
    count(probes: Probe[]) {
      acknowledged += probes.filter(
        (p) => p.status === 200 && (p.endpoint.body as { action?: string } | undefined)?.action === 'agent.run',
      ).length;
    },
    async run() {
      const answer = await probe(stack.urls, {
        app: 'auth',
        method: 'POST',
        path: '/v1/verify',
        headers: service,
        body: { key: stack.demo.apiKey, action: 'agent.run', orgId: stack.demo.orgId },
      });
      if (answer.status === 200) acknowledged++;
      return answer;
    },
    /** Agent credits debited to the demo org (milli-credits) and the entries that did it. */
    async debited() {
      const [row] = await stack.db.query(
        `SELECT COALESCE(-SUM(amount), 0)::text AS mc, COUNT(*)::int AS entries FROM ledger_entries
          WHERE org_id = $1 AND kind = 'agent' AND entry_type IN ('debit', 'overage')`,
        [stack.demo.orgId],
      );
      return row as { mc: string; entries: number };
    },
  };
}

/** One line per probe, for the test's log. */
export const describeProbes = (label: string, probes: Probe[]) =>
  `${label}: ${probes.length} endpoints, slowest ${Math.max(...probes.map((p) => p.ms)).toFixed(0)} ms; ` +
  probes
    .map(
      (p) =>
        `${p.endpoint.app} ${p.endpoint.method} ${p.endpoint.path.split('?')[0].replace(/ORG-\w+/, ':org')} ${p.status}`,
    )
    .join('; ');
