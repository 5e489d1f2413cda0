import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tally/platform';
import { Counter, Histogram, Registry } from 'prom-client';
import { PostedChange, PostingObserver, PostingObservers } from '../ledger/posting-observers';
import { ResourceCountDelta, ResourceCountsRepository } from './resource-counts.repository';

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
    for (const event of events) byKind.set(event.kind, (byKind.get(event.kind) ?? 0) + 1);
    for (const [kind, n] of byKind) this.posted.labels(kind).inc(n);
    // Read-then-write is safe: the posting transaction holds the orgs' rows.
    await new ResourceCountsRepository(manager).add(resourceDeltas(events));
  }
}

/** Each org's resource-count changes from fresh verified actions (a redelivery is never fresh). */
function resourceDeltas(events: PostedChange['events']): Map<string, ResourceCountDelta> {
  const deltas = new Map<string, ResourceCountDelta>();
  for (const event of events) {
    if (event.kind !== 'action' || !RESOURCE_DELTAS[event.action]) continue;
    const [column, delta] = RESOURCE_DELTAS[event.action];
    const row = deltas.get(event.orgId) ?? { sandboxes: 0, projects: 0, mcp_servers: 0 };
    row[column] += delta;
    deltas.set(event.orgId, row);
  }
  return deltas;
}
