import { cloudEvent, EventTypes, Topics, topicName, UsageEventTypes } from '@tally/contracts';
import { grantPackage } from '@tally/database';
import { Kafka, KafkaMessage, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';

/** Shared helpers of the metering end-to-end tests: organizations, upstream events, ledger sums. */
export const SERVICE_HEADERS = { 'content-type': 'application/json', 'x-service-token': 'test-service-token' };

export async function seedOrg(
  db: DataSource,
  grant: { sandboxMs?: bigint; agentMc?: bigint; notAfter?: Date | null } = {},
): Promise<string> {
  const orgId = `ORG-${ulid()}`;
  await db.query('INSERT INTO organizations (id, name) VALUES ($1, $2)', [orgId, 'test org']);
  if (grant.sandboxMs !== undefined || grant.agentMc !== undefined) {
    await grantPackage(db, {
      orgId,
      sandboxMs: grant.sandboxMs ?? 0n,
      agentMc: grant.agentMc ?? 0n,
      notAfter: grant.notAfter ?? null,
      source: 'test',
      externalId: `seed-${orgId}`,
    });
  }
  return orgId;
}

/** Many organizations with one package each, in two statements. */
export async function seedOrgs(db: DataSource, count: number, sandboxMs: bigint, agentMc: bigint): Promise<string[]> {
  const orgIds = Array.from({ length: count }, () => `ORG-${ulid()}`);
  await db.query(`INSERT INTO organizations (id, name) SELECT id, 'load org' FROM unnest($1::varchar[]) AS t(id)`, [
    orgIds,
  ]);
  await db.query(
    `WITH p AS (
       INSERT INTO packages (org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining, source, external_id)
       SELECT id, $2, $2, $3, $3, 'test', 'seed-' || id FROM unnest($1::varchar[]) AS t(id) RETURNING id, org_id)
     INSERT INTO ledger_entries (org_id, package_id, kind, entry_type, amount, event_source, event_id)
     SELECT org_id, id, k.kind, 'grant', CASE k.kind WHEN 'sandbox' THEN $2::bigint ELSE $3::bigint END, 'grant:test', 'seed-' || org_id
       FROM p CROSS JOIN (VALUES ('sandbox'), ('agent')) AS k(kind)`,
    [orgIds, sandboxMs.toString(), agentMc.toString()],
  );
  return orgIds;
}

export interface RawEvent {
  topic: string;
  key: string;
  value: unknown;
}

export function verified(
  prefix: string,
  orgId: string,
  action: string,
  extra: { params?: Record<string, unknown>; resource?: { type: string; id: string }; admissionId?: string } = {},
  id = ulid(),
): RawEvent {
  return {
    topic: topicName(prefix, Topics.actionVerified),
    key: orgId,
    value: cloudEvent({
      id,
      source: '//tally/auth',
      type: EventTypes.actionVerified,
      subject: orgId,
      data: {
        orgId,
        keyId: 'key-1',
        userId: 'user-1',
        action,
        resource: extra.resource ?? null,
        params: extra.params ?? {},
        admissionId: extra.admissionId ?? null,
      },
    }),
  };
}

export function sandboxUsage(
  prefix: string,
  orgId: string,
  sandboxId: string,
  type: 'sandbox.started' | 'sandbox.heartbeat' | 'sandbox.stopped',
  runtimeMs: number,
  sequence: number,
  shape = 'small',
  id = ulid(),
): RawEvent {
  return {
    topic: topicName(prefix, Topics.usageSandbox),
    key: orgId,
    value: cloudEvent({
      id,
      source: '//test/sandbox-runtime',
      type,
      subject: orgId,
      data: { orgId, sandboxId, shape, runtimeMs, sequence },
    }),
  };
}

export function agentUsage(prefix: string, orgId: string, credits: number, kind = 'inference', id = ulid()): RawEvent {
  return {
    topic: topicName(prefix, Topics.usageAgent),
    key: orgId,
    value: cloudEvent({
      id,
      source: '//test/agent-runtime',
      type: UsageEventTypes.agentConsumed,
      subject: orgId,
      data: { orgId, runId: `run-${id}`, credits, kind },
    }),
  };
}

/** Publishes raw events in chunks, acknowledged by all replicas. */
export async function publishAll(producer: Producer, events: RawEvent[], chunk = 1_000): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    const byTopic = new Map<string, RawEvent[]>();
    for (const event of events.slice(i, i + chunk))
      byTopic.set(event.topic, [...(byTopic.get(event.topic) ?? []), event]);
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((e) => ({
          key: e.key,
          value: typeof e.value === 'string' ? e.value : JSON.stringify(e.value),
        })),
      })),
    });
  }
}

/** Per org and kind: the sum of signed ledger amounts by entry type. */
export async function ledgerTotals(db: DataSource): Promise<Record<string, string>> {
  const rows: { org_id: string; kind: string; entry_type: string; total: string; n: string }[] = await db.query(
    `SELECT org_id, kind, entry_type, SUM(amount)::text AS total, COUNT(*)::text AS n
       FROM ledger_entries GROUP BY org_id, kind, entry_type ORDER BY 1, 2, 3`,
  );
  return Object.fromEntries(rows.map((r) => [`${r.org_id}|${r.kind}|${r.entry_type}`, `${r.total}/${r.n}`]));
}

export async function processedCount(db: DataSource): Promise<number> {
  const [row]: { n: string }[] = await db.query('SELECT COUNT(*)::text AS n FROM processed_events');
  return Number(row.n);
}

/** Reads a topic from the beginning with a throwaway group until `count` messages arrived. */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 20_000,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: `reader-${ulid()}`, maxWaitTimeInMs: 100 });
  const seen: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  const deadline = Date.now() + timeoutMs;
  try {
    while (seen.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

const PRICES: Record<string, string> = { micro: '0.5', small: '1', medium: '2', gpu: '12.5' };

/** A small seeded PRNG (mulberry32): the same seed, the same workload and kill moments. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Workload {
  events: RawEvent[];
  /** `${orgId}|${kind}` → total cost in integer units (drawn + overage). */
  expected: Map<string, bigint>;
}

/**
 * A realistic, seeded mix of upstream events for `orgIds` with exactly known costs: agent runs
 * (1 credit each), agent usage, sandboxes created, heartbeating and stopping at shape prices.
 */
export function workload(prefix: string, orgIds: string[], count: number, seed = 42): Workload {
  const random = seededRandom(seed);
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const events: RawEvent[] = [];
  const expected = new Map<string, bigint>();
  const add = (orgId: string, kind: string, amount: bigint) =>
    expected.set(`${orgId}|${kind}`, (expected.get(`${orgId}|${kind}`) ?? 0n) + amount);
  const open = new Map<string, { orgId: string; id: string; shape: string; seq: number }>();
  const cost = (ms: bigint, price: string) => {
    const [whole, fraction = ''] = price.split('.');
    const den = 10n ** BigInt(fraction.length);
    return (ms * BigInt(whole + fraction) * 2n + den) / (den * 2n);
  };
  let n = 0;
  const id = () => `w${seed}-${n++}`;
  while (events.length < count) {
    const orgId = pick(orgIds);
    const roll = random();
    if (roll < 0.25) {
      events.push(verified(prefix, orgId, 'agent.run', {}, id()));
      add(orgId, 'agent', 1_000n);
    } else if (roll < 0.5) {
      const credits = 1 + Math.floor(random() * 5_000);
      events.push(agentUsage(prefix, orgId, credits, pick(['inference', 'tool', 'mcp_action']), id()));
      add(orgId, 'agent', BigInt(credits));
    } else if (roll < 0.62 || open.size === 0) {
      const shape = pick(Object.keys(PRICES));
      const sandboxId = `sbx-${id()}`;
      events.push(
        verified(
          prefix,
          orgId,
          'sandbox.create',
          {
            params: { shape, maxLifeSeconds: 60 + Math.floor(random() * 3_600) },
            resource: { type: 'sandbox', id: sandboxId },
            admissionId: `adm-${sandboxId}`,
          },
          id(),
        ),
      );
      open.set(sandboxId, { orgId, id: sandboxId, shape, seq: 0 });
    } else {
      const sandbox = pick([...open.values()]);
      const stop = random() < 0.2;
      const ms = Math.floor(random() * 120_000);
      sandbox.seq += 1;
      events.push(
        sandboxUsage(
          prefix,
          sandbox.orgId,
          sandbox.id,
          stop ? 'sandbox.stopped' : 'sandbox.heartbeat',
          ms,
          sandbox.seq,
          sandbox.shape,
          id(),
        ),
      );
      add(sandbox.orgId, 'sandbox', cost(BigInt(ms), PRICES[sandbox.shape]));
      if (stop) open.delete(sandbox.id);
    }
  }
  return { events, expected };
}

/** Per `${orgId}|${kind}`: what the ledger posted as cost (debits + overage, as a positive number). */
export async function postedCosts(db: DataSource): Promise<Map<string, bigint>> {
  const rows: { org_id: string; kind: string; total: string }[] = await db.query(
    `SELECT org_id, kind, (-SUM(amount))::text AS total FROM ledger_entries
      WHERE entry_type IN ('debit', 'overage') GROUP BY org_id, kind`,
  );
  return new Map(rows.filter((r) => r.total !== '0').map((r) => [`${r.org_id}|${r.kind}`, BigInt(r.total)]));
}

/** Non-zero expected costs, for comparing with `postedCosts`. */
export const nonZero = (costs: Map<string, bigint>) => new Map([...costs].filter(([, v]) => v !== 0n));

/** True once the group's committed offsets reach every partition's end. */
export async function groupCaughtUp(kafka: Kafka, groupId: string, topics: string[]): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const end of ends) {
        const offset = mine.find((p) => p.partition === end.partition)?.offset ?? '-1';
        if (end.high !== '0' && BigInt(offset) < BigInt(end.high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}
