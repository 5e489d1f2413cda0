import {
  cloudEvent,
  EventTypes,
  milliToCredits,
  msToHours,
  Topics,
  topicName,
  UsageEventTypes,
} from '@tally/contracts';
import { createKafka } from '@tally/kafka';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import fc from 'fast-check';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { bearer, call, newUserId, openDatabase, startAuth, userToken } from './auth-harness';
import { publishAll, RawEvent, seededRandom, seedOrg, SERVICE_HEADERS } from './metering-harness';
import { appUrl, startApp } from './apps';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PRICES: Record<string, bigint> = { micro: 5n, small: 10n, medium: 20n }; // tenths: 0.5, 1, 2
/** Sandboxes the events name: each keeps one shape, so its hold prices every report the same. */
const SANDBOXES = Array.from({ length: 9 }, (_, n) => ({ id: `sbx-${n}`, shape: Object.keys(PRICES)[n % 3] }));

/** What the generator knows about each event: the roll-up dimensions and its time. */
interface Known {
  at: number;
  key: string;
  action: string;
  shape: string;
  kind: string;
  /** '' when the event names no sandbox. */
  sandbox: string;
}

/**
 * The ops read endpoints on real Kafka/PostgreSQL: /usage totals equal the ledger's, and its event
 * counts the events sent, for random windows, granularities and groupings (fast-check, bounded);
 * the per-sandbox series against the holds; the ledger pages, balances, CSV, top, and the API-key
 * reads through auth's verify (own organization only).
 */
describe('ops: usage, ledger, balances and API-key reads', () => {
  jest.setTimeout(120_000);
  let ctx: TestContext;
  let metering: NestFastifyApplication;
  let authApp: NestFastifyApplication;
  let authUrl: string;
  let db: DataSource;
  let producer: Producer;
  let url: string;
  let orgId: string;
  let otherOrg: string;
  const known = new Map<string, Known>();
  let start: number;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await openDatabase(ctx);
    // metering's own credential towards auth: auth accepts it, metering does not.
    ({ app: authApp, url: authUrl } = await startAuth(ctx, {
      SERVICE_TOKENS: 'test-service-token,test-metering-to-auth',
    }));
    metering = await startApp(
      'metering',
      ctx.env({ EXPIRY_INTERVAL_MS: '0', AUTH_URL: authUrl, AUTH_SERVICE_TOKEN: 'test-metering-to-auth' }),
    );
    url = appUrl(metering);
    producer = createKafka('ops-usage-test', [ctx.kafkaBrokers]).producer();
    await producer.connect();

    orgId = await seedOrg(db, { sandboxMs: 50n * HOUR_BIG, agentMc: 500_000n });
    otherOrg = await seedOrg(db, { sandboxMs: 10n * HOUR_BIG, agentMc: 10_000n });
    // 400 events over 5 days: verified actions (some with a fixed cost, some creating one of nine
    // sandboxes) from three keys, agent usage of three kinds, the sandboxes' runtime reports; one
    // organization is noise for the other.
    const random = seededRandom(7);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
    start = Math.floor(Date.now() / DAY) * DAY - 5 * DAY;
    const events: RawEvent[] = [];
    for (let i = 0; i < 400; i++) {
      const org = random() < 0.85 ? orgId : otherOrg;
      const at = start + Math.floor(random() * 5 * DAY);
      const id = `u-${i}`;
      const roll = random();
      let k: Known;
      let value: unknown;
      let topic: string;
      if (roll < 0.35) {
        const action = pick(['agent.run', 'agent.run', 'sandbox.list', 'project.create', 'sandbox.create']);
        const keyId = pick(['key-a', 'key-b', 'key-c']);
        const sandbox = action === 'sandbox.create' ? pick(SANDBOXES) : null;
        k = { at, key: keyId, action, shape: sandbox?.shape ?? '', kind: 'action', sandbox: sandbox?.id ?? '' };
        topic = Topics.actionVerified;
        value = cloudEvent({
          id,
          source: '//tally/auth',
          type: EventTypes.actionVerified,
          subject: org,
          time: new Date(at),
          data: {
            orgId: org,
            keyId,
            userId: 'u',
            action,
            resource: sandbox && { type: 'sandbox', id: sandbox.id },
            params: sandbox ? { shape: sandbox.shape, maxLifeSeconds: 600 } : {},
            admissionId: null,
          },
        });
      } else if (roll < 0.7) {
        const usageKind = pick(['inference', 'tool', 'mcp_action']);
        k = { at, key: '', action: 'agent.consumed', shape: '', kind: usageKind, sandbox: '' };
        topic = Topics.usageAgent;
        value = cloudEvent({
          id,
          source: '//test/agent-runtime',
          type: UsageEventTypes.agentConsumed,
          subject: org,
          time: new Date(at),
          data: { orgId: org, runId: `r-${i}`, credits: 1 + Math.floor(random() * 3_000), kind: usageKind },
        });
      } else {
        const { id: sandboxId, shape } = pick(SANDBOXES);
        const type = pick(['sandbox.started', 'sandbox.heartbeat', 'sandbox.stopped'] as const);
        k = { at, key: '', action: type, shape, kind: 'sandbox_runtime', sandbox: sandboxId };
        topic = Topics.usageSandbox;
        value = cloudEvent({
          id,
          source: '//test/sandbox-runtime',
          type,
          subject: org,
          time: new Date(at),
          data: { orgId: org, sandboxId, shape, runtimeMs: Math.floor(random() * 600_000), sequence: i },
        });
      }
      if (org === orgId) known.set(id, k);
      events.push({ topic: topicName(ctx.topicPrefix, topic), key: org, value });
    }
    await publishAll(producer, events);
    await expectEventually(
      async () =>
        expect(Number((await db.query('SELECT COUNT(*)::int AS n FROM processed_events'))[0].n)).toBe(events.length),
      60_000,
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await metering?.close();
    await authApp?.close();
    await db?.destroy();
    await ctx?.dispose();
  });

  const get = async (path: string, headers: Record<string, string> = SERVICE_HEADERS) => {
    const response = await fetch(`${url}${path}`, { headers });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('property: /usage totals equal the ledger, and its counts the events, for random windows, granularities and groupings', async () => {
    // The ledger's side: every debit and overage of the org, attributed to its event's dimensions.
    const rows: { event_id: string; kind: 'sandbox' | 'agent'; total: string }[] = await db.query(
      `SELECT event_id, kind, (-SUM(amount))::text AS total FROM ledger_entries
        WHERE org_id = $1 AND entry_type IN ('debit', 'overage') GROUP BY event_id, kind`,
      [orgId],
    );
    expect(rows.length).toBeGreaterThan(100);
    // Each groupBy value names the Known field of its dimension.
    const groupValue = (k: Known, by: keyof Omit<Known, 'at'> | null) => (by === null ? null : k[by]);

    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -24, max: 5 * 24 + 24 }),
        fc.integer({ min: 1, max: 7 * 24 }),
        fc.constantFrom('hour', 'day'),
        fc.constantFrom(null, 'key', 'action', 'shape', 'kind', 'sandbox' as const),
        async (fromHour, spanHours, granularity, groupBy) => {
          const from = start + fromHour * HOUR;
          const to = from + spanHours * HOUR;
          const query = `from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&granularity=${granularity}${groupBy ? `&groupBy=${groupBy}` : ''}`;
          const { status, body } = await get(`/v1/orgs/${orgId}/usage?${query}`);
          expect(status).toBe(200);
          const fromApi = new Map<string, bigint>();
          // The display decimals (formatted by PostgreSQL) agree with the contracts' formatting.
          for (const p of body.series as {
            sandboxMs: string;
            sandboxHours: string;
            agentMilliCredits: string;
            agentCredits: string;
          }[]) {
            expect(p.sandboxHours).toBe(msToHours(BigInt(p.sandboxMs)));
            expect(p.agentCredits).toBe(milliToCredits(BigInt(p.agentMilliCredits)));
          }
          const eventsFromApi = new Map<string, bigint>();
          for (const p of body.series as {
            start: string;
            group: string | null;
            events: string;
            sandboxMs: string;
            agentMilliCredits: string;
          }[]) {
            eventsFromApi.set(`${p.start}|${p.group}`, BigInt(p.events));
            for (const [kind, value] of [
              ['sandbox', p.sandboxMs],
              ['agent', p.agentMilliCredits],
            ] as const)
              if (value !== '0') fromApi.set(`${p.start}|${p.group}|${kind}`, BigInt(value));
          }
          const fromLedger = new Map<string, bigint>();
          const size = granularity === 'hour' ? HOUR : DAY;
          const point = (k: Known) =>
            `${new Date(Math.floor(k.at / size) * size).toISOString()}|${groupValue(k, groupBy)}`;
          for (const row of rows) {
            const k = known.get(row.event_id)!;
            if (k.at < from || k.at >= to) continue;
            const key = `${point(k)}|${row.kind}`;
            fromLedger.set(key, (fromLedger.get(key) ?? 0n) + BigInt(row.total));
          }
          for (const [key, value] of [...fromLedger]) if (value === 0n) fromLedger.delete(key);
          expect(fromApi).toEqual(fromLedger);
          const eventsSent = new Map<string, bigint>();
          for (const k of known.values())
            if (k.at >= from && k.at < to) eventsSent.set(point(k), (eventsSent.get(point(k)) ?? 0n) + 1n);
          expect(eventsFromApi).toEqual(eventsSent);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("groupBy=sandbox: each sandbox's runtime is what its hold captured", async () => {
    const query = `from=${new Date(start).toISOString()}&to=${new Date(start + 6 * DAY).toISOString()}&groupBy=sandbox`;
    const { status, body } = await get(`/v1/orgs/${orgId}/usage?${query}`);
    expect(status).toBe(200);
    const perSandbox = new Map<string, bigint>();
    for (const p of body.series as { group: string; sandboxMs: string }[])
      if (p.group !== '') perSandbox.set(p.group, (perSandbox.get(p.group) ?? 0n) + BigInt(p.sandboxMs));
    const holds: { sandbox_id: string; captured_ms: string }[] = await db.query(
      'SELECT sandbox_id, captured_ms FROM holds WHERE org_id = $1 ORDER BY sandbox_id',
      [orgId],
    );
    expect(holds.length).toBeGreaterThan(5);
    expect(perSandbox).toEqual(new Map(holds.map((h) => [h.sandbox_id, BigInt(h.captured_ms)])));
    // Nothing outside a sandbox is runtime.
    for (const p of body.series as { group: string; sandboxMs: string }[])
      if (p.group === '') expect(p.sandboxMs).toBe('0');
  });

  it.each(['kind', 'sandbox'])('CSV on Accept: text/csv, with the same totals (groupBy=%s)', async (groupBy) => {
    const query = `from=${new Date(start).toISOString()}&to=${new Date(start + 6 * DAY).toISOString()}&granularity=day&groupBy=${groupBy}`;
    const json = await get(`/v1/orgs/${orgId}/usage?${query}`);
    const response = await fetch(`${url}/v1/orgs/${orgId}/usage?${query}`, {
      headers: { ...SERVICE_HEADERS, accept: 'text/csv' },
    });
    expect(response.headers.get('content-type')).toContain('text/csv');
    const lines = (await response.text()).trim().split('\r\n');
    expect(lines[0]).toBe('start,group,events,sandbox_ms,sandbox_hours,agent_milli_credits,agent_credits');
    expect(lines).toHaveLength((json.body.series as unknown[]).length + 1);
    const sum = lines.slice(1).reduce((s, line) => s + BigInt(line.split(',')[5]), 0n);
    expect(sum.toString()).toBe((json.body.totals as { agentMilliCredits: string }).agentMilliCredits);
  });

  it('the ledger pages back to the first grant, each entry with its event', async () => {
    const seen: { seq: string; amount: string; event: { id: string; topic: string | null } }[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/v1/orgs/${orgId}/ledger?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(page.body.entries as typeof seen));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    const [{ n, total }] = await db.query(
      'SELECT COUNT(*)::int AS n, SUM(amount)::text AS total FROM ledger_entries WHERE org_id = $1',
      [orgId],
    );
    expect(seen).toHaveLength(n);
    expect(seen.reduce((s, e) => s + BigInt(e.amount), 0n).toString()).toBe(total);
    expect(new Set(seen.map((e) => e.seq)).size).toBe(n);
    // Every debit names the Kafka message that caused it.
    const debits = seen.filter((e) => known.has(e.event.id)) as unknown as {
      event: { topic: string | null; partition: number | null; offset: string | null };
    }[];
    expect(debits.length).toBeGreaterThan(100);
    for (const d of debits) {
      expect(d.event.topic).toMatch(/(usage\.(agent|sandbox)|auth\.action\.verified)\.v1$/);
      expect(d.event.offset).toMatch(/^\d+$/);
    }
    expect((await get(`/v1/orgs/${orgId}/ledger?cursor=abc`)).status).toBe(400);
  });

  it('balances: granted, consumed, available as decimals with asOf, burn rate and packages', async () => {
    const { status, body } = await get(`/v1/orgs/${orgId}/balances`);
    expect(status).toBe(200);
    const [{ remaining, seq }] = await db.query(
      `SELECT (SELECT SUM(agent_mc_remaining) FROM packages WHERE org_id = $1)::text AS remaining,
              (SELECT MAX(seq) FROM ledger_entries WHERE org_id = $1)::text AS seq`,
      [orgId],
    );
    const agent = (body.balances as Record<string, Record<string, string>>).agent;
    expect(agent.granted).toBe('500');
    expect(BigInt(Math.round(Number(agent.available) * 1000))).toBe(BigInt(remaining));
    expect(body.asOf).toBe(seq);
    expect(body.packages).toHaveLength(1);
    expect((await get('/v1/orgs/ORG-01ARZ3NDEKTSV4RRFFQ69G5FAV/balances')).status).toBe(404);
    expect((await fetch(`${url}/v1/orgs/${orgId}/balances`)).status).toBe(401);
  });

  it('top organizations by consumption', async () => {
    const { body } = await get(
      `/v1/usage/top?kind=agent&from=${new Date(start).toISOString()}&to=${new Date(start + 6 * DAY).toISOString()}`,
    );
    const orgs = body.organizations as { orgId: string; consumed: string }[];
    expect(orgs.map((o) => o.orgId)).toEqual([orgId, otherOrg]);
    expect(BigInt(orgs[0].consumed)).toBeGreaterThan(BigInt(orgs[1].consumed));
    expect((await get('/v1/usage/top?kind=gold')).status).toBe(400);
  });

  it('API keys read their own organization (packages, usage, stats) through verify, and nothing else', async () => {
    const owner = userToken(newUserId(), [{ orgId, role: 'owner' }]);
    const created = await call(authUrl, 'POST', `/v1/orgs/${orgId}/api-keys`, {
      headers: bearer(owner),
      body: { name: 'ops' },
    });
    expect(created.status).toBe(201);
    const key = (created.body as { key: string }).key;
    const headers = { 'x-api-key': key };
    const packages = await get(`/api/orgs/${orgId}/packages`, headers);
    expect(packages.status).toBe(200);
    expect(packages.body).toHaveLength(1);
    const usage = await get(`/api/orgs/${orgId}/usage?granularity=day&from=${new Date(start).toISOString()}`, headers);
    expect(usage.status).toBe(200);
    const stats = await get(`/api/orgs/${orgId}/stats`, headers);
    expect(stats.status).toBe(200);
    // project.create and sandbox.create events of this org were counted, once each.
    const count = (action: string) => [...known.values()].filter((k) => k.action === action).length;
    expect(stats.body).toEqual({
      sandboxes: count('sandbox.create'),
      projects: count('project.create'),
      mcpServers: 0,
    });
    expect((await get(`/api/orgs/${otherOrg}/usage`, headers)).status).toBe(404);
    expect((await get(`/api/orgs/${orgId}/stats`, { 'x-api-key': 'nope' })).status).toBe(401);
  });
});

const HOUR_BIG = 3_600_000n;
