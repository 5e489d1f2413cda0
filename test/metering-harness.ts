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
