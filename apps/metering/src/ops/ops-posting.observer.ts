import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tally/platform';
import { Counter, Histogram, Registry } from 'prom-client';
import { PostedChange, PostingObserver, PostingObservers } from '../ledger/posting-observers';

/** Verified actions that change an organization's resource counts (the platform's /stats). */
const RESOURCE_DELTAS: Record<string, [column: 'sandboxes' | 'projects' | 'mcp_servers', delta: number]> = {
  'sandbox.create': ['sandboxes', 1],
  'sandbox.delete': ['sandboxes', -1],
  'project.create': ['projects', 1],
  'project.delete': ['projects', -1],
  'mcp_server.create': ['mcp_servers', 1],
  'mcp_server.delete': ['mcp_servers', -1],
};

/**
 * In the posting's transaction: keeps the resource counts from fresh verified actions (so a
 * redelivered event, never fresh, cannot count twice), and counts postings for /metrics.
 */
@Injectable()
export class OpsPostingObserver implements PostingObserver, OnModuleInit {
  private readonly batchSize: Histogram;
  private readonly posted: Counter<'kind'>;

  constructor(
    private readonly observers: PostingObservers,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.batchSize = new Histogram({
      name: 'tally_ledger_batch_events',
      help: 'Fresh events posted per ledger transaction (a consumer batch after dedupe)',
      buckets: [1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000],
      registers: [registry],
    });
    this.posted = new Counter({
      name: 'tally_ledger_postings_total',
      help: 'Events posted to the ledger (first seen), by event kind; grants count as kind=grant',
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  onModuleInit(): void {
    this.observers.register(this);
  }

  async afterPosting({ manager, orgIds, events }: PostedChange): Promise<void> {
    if (events.length === 0) {
      this.posted.labels('grant').inc(orgIds.length);
      return;
    }
    this.batchSize.observe(events.length);
    const byKind = new Map<string, number>();
    const counts = new Map<string, { sandboxes: number; projects: number; mcp_servers: number }>();
    for (const event of events) {
      byKind.set(event.kind, (byKind.get(event.kind) ?? 0) + 1);
      if (event.kind !== 'action' || !RESOURCE_DELTAS[event.action]) continue;
      const [column, delta] = RESOURCE_DELTAS[event.action];
      const row = counts.get(event.orgId) ?? { sandboxes: 0, projects: 0, mcp_servers: 0 };
      row[column] += delta;
      counts.set(event.orgId, row);
    }
    for (const [kind, n] of byKind) this.posted.labels(kind).inc(n);
    if (counts.size === 0) return;
    const rows = [...counts];
    // Counts never go below zero (a delete seen without its create, e.g. one made before metering
    // ran). The org rows are locked by the posting transaction, so read-then-write is safe here.
    await manager.query(
      `INSERT INTO org_resource_counts (org_id, sandboxes, projects, mcp_servers)
       SELECT v.org_id, GREATEST(COALESCE(c.sandboxes, 0) + v.s, 0), GREATEST(COALESCE(c.projects, 0) + v.p, 0),
              GREATEST(COALESCE(c.mcp_servers, 0) + v.m, 0)
         FROM unnest($1::varchar[], $2::int[], $3::int[], $4::int[]) AS v(org_id, s, p, m)
         LEFT JOIN org_resource_counts c ON c.org_id = v.org_id
       ON CONFLICT (org_id) DO UPDATE SET
         sandboxes = excluded.sandboxes, projects = excluded.projects, mcp_servers = excluded.mcp_servers`,
      [
        rows.map(([orgId]) => orgId),
        rows.map(([, r]) => r.sandboxes),
        rows.map(([, r]) => r.projects),
        rows.map(([, r]) => r.mcp_servers),
      ],
    );
  }
}
