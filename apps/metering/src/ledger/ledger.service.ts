import { Inject, Injectable, Logger } from '@nestjs/common';
import { cloudEvent, Topics, topicName, UsageEventTypes } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalances } from '@tally/database';
import { KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { BalanceCache } from '@tally/redis';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { OutboxSignal } from '../outbox/outbox-signal';
import { isActive } from './burn-down';
import { LedgerRepository, OutboxRow } from './ledger.repository';
import { MeteringEvent, shapeOf } from './metering-event';
import { PostingObservers } from './posting-observers';
import { Depletion, holdKey, postEvents } from './posting';
import { ShapeCatalog } from './shape-catalog.service';

export const METERING_SOURCE = '//tally/metering';

export interface Rejection {
  event: MeteringEvent;
  reason: string;
  reasonClass: 'unknown-organization' | 'unknown-shape';
}

export interface PostResult {
  applied: number;
  duplicates: number;
  rejected: Rejection[];
}

/**
 * Posts a batch of events to the ledger exactly once: one PostgreSQL transaction locks the
 * batch's organizations, dedupes by (source, id) forever, burns down packages, moves holds,
 * appends ledger entries with their outbox events and upserts the hourly roll-ups (per grain and
 * per sandbox); only then is Redis refreshed from the committed truth. A crash anywhere
 * re-delivers the batch, and dedupe makes that harmless.
 */
@Injectable()
export class LedgerService {
  private readonly logger = new Logger(LedgerService.name);

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    @Inject(KAFKA_OPTIONS) private readonly kafka: KafkaModuleOptions,
    private readonly balances: BalanceCache,
    private readonly shapes: ShapeCatalog,
    private readonly outbox: OutboxSignal,
    private readonly observers: PostingObservers,
  ) {}

  async post(events: MeteringEvent[]): Promise<PostResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0, rejected: [] };
    const rejected: Rejection[] = [];
    const prices = await this.shapes.pricesFor(events.map(shapeOf).filter((s): s is string => s !== null));
    const priced = events.filter((event) => {
      const shape = shapeOf(event);
      if (shape === null || prices.has(shape)) return true;
      rejected.push({ event, reason: `unknown shape ${JSON.stringify(shape)}`, reasonClass: 'unknown-shape' });
      return false;
    });

    const orgIds = [...new Set(priced.map((event) => event.orgId))].sort();
    const outcome = await this.dataSource.transaction(async (manager) => {
      const ledger = new LedgerRepository(manager);
      // The same event twice in one batch is as much a duplicate as one redelivered later: only
      // its first occurrence may be posted (the INSERT reports the key once for both).
      const unique = new Map<string, MeteringEvent>();
      for (const event of priced)
        if (!unique.has(`${event.source}|${event.id}`)) unique.set(`${event.source}|${event.id}`, event);
      const { known, firstSeen } = await ledger.lockAndMarkProcessed(orgIds, [...unique.values()]);
      const accepted = priced.filter((event) => {
        if (known.has(event.orgId)) return true;
        rejected.push({ event, reason: `unknown organization ${event.orgId}`, reasonClass: 'unknown-organization' });
        return false;
      });
      const fresh = [...unique.values()].filter(
        (event) => known.has(event.orgId) && firstSeen.has(`${event.source}|${event.id}`),
      );
      if (fresh.length === 0) return { known, applied: 0, accepted: accepted.length };

      const freshOrgs = [...new Set(fresh.map((event) => event.orgId))].sort();
      const packages = await ledger.lockPackages(freshOrgs);
      const pairs = new Map<string, { orgId: string; sandboxId: string }>();
      for (const event of fresh) {
        const sandboxId = event.kind === 'agent' ? null : event.sandboxId;
        if (sandboxId) pairs.set(holdKey(event.orgId, sandboxId), { orgId: event.orgId, sandboxId });
      }
      const holds = new Map(
        (await ledger.lockHolds([...pairs.values()])).map((h) => [holdKey(h.orgId, h.sandboxId), h]),
      );
      const result = postEvents(fresh, {
        packages,
        holds,
        prices,
        fixedCosts: this.config.ACTION_FIXED_COSTS,
        holdGraceMs: this.config.HOLD_GRACE_SECONDS * 1000,
      });

      await ledger.writePosting({
        packages: [...packages.values()].flat().filter((p) => result.touchedPackages.has(p.id)),
        holds: [...holds.values()].filter((h) => h.dirty),
        entries: result.entries,
        rollups: result.rollups,
        sandboxRollups: result.sandboxRollups,
        outbox: result.depletions.map((depletion) =>
          this.depletedAlert(depletion, packages.get(depletion.orgId) ?? []),
        ),
        ledgerTopic: topicName(this.kafka.topicPrefix, Topics.ledgerPosted),
        source: METERING_SOURCE,
      });
      await this.observers.afterPosting({ manager, orgIds: freshOrgs, events: fresh });
      for (const overrun of result.overruns) {
        this.logger.warn(overrun, 'sandbox runtime beyond its hold: debited and flagged on the hold');
      }
      return { known, applied: fresh.length, accepted: accepted.length };
    });

    // Duplicates included: a crash after the commit but before this refresh left Redis behind.
    const settled = new Map<string, string[]>();
    for (const event of priced) {
      if (event.kind === 'action' && event.admissionId && outcome.known.has(event.orgId)) {
        settled.set(event.orgId, [...(settled.get(event.orgId) ?? []), event.admissionId]);
      }
    }
    await this.refreshCache([...outcome.known], settled);
    if (outcome.applied > 0) this.outbox.notify();
    return { applied: outcome.applied, duplicates: outcome.accepted - outcome.applied, rejected };
  }

  /**
   * Writes each org's committed balance to Redis. A failure throws: the batch is retried (dedupe
   * makes the PostgreSQL part a no-op) and its offsets stay uncommitted until Redis has it.
   */
  async refreshCache(orgIds: string[], settled = new Map<string, string[]>()): Promise<void> {
    if (orgIds.length === 0) return;
    const balances = await loadOrgBalances(this.dataSource, orgIds, new Date());
    await Promise.all(
      [...balances].map(([orgId, balance]) => this.balances.apply(orgId, balance, settled.get(orgId) ?? [])),
    );
  }

  private depletedAlert(depletion: Depletion, packages: Parameters<typeof isActive>[0][]): OutboxRow {
    const remaining = packages
      .filter((p) => isActive(p, depletion.at))
      .reduce((sum, p) => sum + p.remaining[depletion.kind], 0n);
    const id = createHash('sha256')
      .update(`${depletion.orgId}|${depletion.kind}|${depletion.eventSource}|${depletion.eventId}`)
      .digest('hex')
      .slice(0, 32);
    return {
      topic: topicName(this.kafka.topicPrefix, Topics.alerts),
      key: depletion.orgId,
      payload: cloudEvent({
        id: `depleted-${id}`,
        source: METERING_SOURCE,
        type: UsageEventTypes.balanceDepleted,
        subject: depletion.orgId,
        time: depletion.at,
        data: {
          orgId: depletion.orgId,
          kind: depletion.kind,
          threshold: '0',
          remaining: remaining.toString(),
          shortfall: depletion.shortfall.toString(),
          forecastDepletionAt: null,
        },
      }),
    };
  }
}
