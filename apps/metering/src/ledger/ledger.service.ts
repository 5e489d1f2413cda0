import { Inject, Injectable, Logger } from '@nestjs/common';
import { Topics, topicName } from '@tally/contracts';
import { KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { BalanceCache } from '@tally/redis';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { OutboxSignal } from '../outbox/outbox-signal';
import { admissionsNamed, AdmissionFate, fateKey } from './admission-fates';
import { AdmissionFatesRepository } from './admission-fates.repository';
import { LedgerDatabase, LedgerRepository, LockedOrgs, RefreshRequest, ReportSequence } from './ledger.repository';
import { dedupeKeys, MeteringEvent, sandboxOf, shapeOf } from './metering-event';
import { PostingObservers } from './posting-observers';
import { HoldState, holdKey, postEvents } from './posting';
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

/** The writers of the ledger: a consumer batch of events, a package grant, an expiry round, an overdraft limit. */
export type PostingPath = 'events' | 'grant' | 'expiry' | 'overdraft';

interface PostingSteps {
  /** Skip an org another writer holds (left for the next round) instead of waiting for it. */
  skipLocked: boolean;
  /** Run the posting observers (alerts, resource counts, metrics) in the transaction. */
  observers: boolean;
  /**
   * How the Redis refresh after the commit is made sure of (docs/TIME.md):
   * `required`: a failure fails the call, so the consumer batch is redelivered and refreshed again
   * (its offsets wait for Redis); `durable`: a `balance_refreshes` row is written in the
   * transaction, deleted once Redis has the balance, and retried by BalanceRefresher until then.
   */
  refresh: 'required' | 'durable';
}

/** Which steps each writer runs, decided here for all of them. */
export const POSTING_STEPS: Record<PostingPath, PostingSteps> = {
  events: { skipLocked: false, observers: true, refresh: 'required' },
  grant: { skipLocked: false, observers: true, refresh: 'durable' },
  expiry: { skipLocked: true, observers: false, refresh: 'durable' },
  overdraft: { skipLocked: false, observers: false, refresh: 'durable' },
};

/** What a posting did under the lock, for the steps that follow it. */
export interface Posted<R> {
  value: R;
  /** What changed, for the observers; null when nothing was posted. */
  change: { orgIds: string[]; events: MeteringEvent[] } | null;
  /** Orgs whose Redis balance is refreshed after the commit. */
  refresh: string[];
  /** Admission ids settled per org (quota drops their provisional holds). */
  settled?: Map<string, string[]>;
  /** Outbox rows were written: wake the relay. */
  outbox: boolean;
}

/** A locked posting: the repository of its transaction and the orgs it holds. */
export type LockedPosting<R> = (ledger: LedgerRepository, locked: LockedOrgs) => Promise<Posted<R>>;

interface BatchOutcome {
  known: Set<string>;
  applied: number;
  accepted: number;
}

const sortedOrgs = (events: MeteringEvent[]) => [...new Set(events.map((event) => event.orgId))].sort();

/**
 * Posts a batch of events to the ledger exactly once: one PostgreSQL transaction locks the
 * batch's organizations, dedupes by (source, id) forever, burns down packages, moves holds,
 * appends ledger entries with their outbox events and upserts the hourly roll-ups (per grain and
 * per sandbox); only then is Redis refreshed from the committed truth. A crash anywhere
 * re-delivers the batch, and dedupe makes that harmless. Grants and expiry post through the same
 * path (`postUnderLock`).
 */
@Injectable()
export class LedgerService {
  private readonly logger = new Logger(LedgerService.name);

  constructor(
    private readonly database: LedgerDatabase,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    @Inject(KAFKA_OPTIONS) private readonly kafka: KafkaModuleOptions,
    private readonly balances: BalanceCache,
    private readonly shapes: ShapeCatalog,
    private readonly outbox: OutboxSignal,
    private readonly observers: PostingObservers,
  ) {}

  /** The topic ledger entries are published to (through the outbox). */
  get ledgerTopic(): string {
    return topicName(this.kafka.topicPrefix, Topics.ledgerPosted);
  }

  async post(events: MeteringEvent[]): Promise<PostResult> {
    if (events.length === 0) return { applied: 0, duplicates: 0, rejected: [] };
    const { priced, rejected, prices } = await this.priceShapes(events);
    const unique = firstOccurrences(priced);
    const outcome = await this.postUnderLock(
      'events',
      sortedOrgs(priced),
      unique,
      (ledger, locked) => this.postFresh(ledger, locked, priced, unique, prices),
      reportSequences(unique),
    );
    for (const event of priced) {
      if (outcome.known.has(event.orgId)) continue;
      rejected.push({ event, reason: `unknown organization ${event.orgId}`, reasonClass: 'unknown-organization' });
    }
    return { applied: outcome.applied, duplicates: outcome.accepted - outcome.applied, rejected };
  }

  /**
   * The one path every ledger writer takes: lock the orgs (and record `dedupe` as processed) in a
   * transaction, post, run the observers there, commit; then wake the relay and refresh Redis.
   */
  async postUnderLock<R>(
    path: PostingPath,
    orgIds: string[],
    dedupe: MeteringEvent[],
    post: LockedPosting<R>,
    reports: ReportSequence[] = [],
  ): Promise<R> {
    const steps = POSTING_STEPS[path];
    const { posted, requests } = await this.database.transaction(async (ledger) => {
      const locked = await ledger.lockAndMarkProcessed(orgIds, dedupe, steps.skipLocked, reports);
      const done = await post(ledger, locked);
      if (steps.observers && done.change) await this.observers.afterPosting({ manager: ledger.tx, ...done.change });
      return { posted: done, requests: steps.refresh === 'durable' ? await ledger.requestRefresh(done.refresh) : [] };
    });
    if (posted.outbox) this.outbox.notify();
    if (steps.refresh === 'required') await this.refreshCache(posted.refresh, posted.settled);
    else await this.refreshDurably(requests, path, posted.settled);
    return posted.value;
  }

  /**
   * Writes requested refreshes to Redis and deletes their rows; a failure leaves the rows for
   * BalanceRefresher (counted as an attempt), never for nobody.
   */
  async refreshDurably(
    requests: RefreshRequest[],
    path: PostingPath | 'refresher',
    settled?: Map<string, string[]>,
  ): Promise<boolean> {
    if (requests.length === 0) return true;
    const orgIds = requests.map((request) => request.orgId);
    try {
      await this.refreshCache(orgIds, settled);
    } catch (error) {
      this.logger.warn({ err: error, path, orgs: orgIds.length }, 'balance refresh failed; the refresher retries it');
      await this.database.refreshFailed(orgIds).catch(() => undefined);
      return false;
    }
    await this.database.refreshed(requests);
    return true;
  }

  /**
   * Writes each org's committed balance to Redis. A failure throws: the batch is retried (dedupe
   * makes the PostgreSQL part a no-op) and its offsets stay uncommitted until Redis has it.
   */
  async refreshCache(orgIds: string[], settled = new Map<string, string[]>()): Promise<void> {
    if (orgIds.length === 0) return;
    const at = new Date();
    const balances = await this.database.balances(orgIds, at);
    await Promise.all(
      [...balances].map(([orgId, balance]) => this.balances.apply(orgId, balance, settled.get(orgId) ?? [], at)),
    );
  }

  /** Splits off events naming a shape the catalog does not know (poison: nothing to price them at). */
  private async priceShapes(events: MeteringEvent[]) {
    const rejected: Rejection[] = [];
    const prices = await this.shapes.pricesFor(events.map(shapeOf).filter((s): s is string => s !== null));
    const priced = events.filter((event) => {
      const shape = shapeOf(event);
      if (shape === null || prices.has(shape)) return true;
      rejected.push({ event, reason: `unknown shape ${JSON.stringify(shape)}`, reasonClass: 'unknown-shape' });
      return false;
    });
    return { priced, rejected, prices };
  }

  /** Under the lock: posts the events seen for the first time; every known org is refreshed. */
  private async postFresh(
    ledger: LedgerRepository,
    { known, firstSeen }: LockedOrgs,
    priced: MeteringEvent[],
    unique: MeteringEvent[],
    prices: Map<string, string>,
  ): Promise<Posted<BatchOutcome>> {
    const seenFirst = (event: MeteringEvent) => dedupeKeys(event).every((key) => firstSeen.has(key));
    const fresh = unique.filter((event) => known.has(event.orgId) && seenFirst(event));
    const accepted = priced.filter((event) => known.has(event.orgId)).length;
    // Duplicates included: a crash after the commit but before the refresh left Redis behind.
    const refresh = { refresh: [...known], settled: settledAdmissions(priced, known) };
    const value = { known, applied: fresh.length, accepted };
    if (fresh.length === 0) return { value, change: null, outbox: false, ...refresh };
    const orgIds = sortedOrgs(fresh);
    await this.postEvents(ledger, orgIds, fresh, prices);
    return { value, change: { orgIds, events: fresh }, outbox: true, ...refresh };
  }

  /** Loads the locked state the events touch, posts them by kind, and writes the result. */
  private async postEvents(
    ledger: LedgerRepository,
    orgIds: string[],
    fresh: MeteringEvent[],
    prices: Map<string, string>,
  ): Promise<void> {
    const packages = await ledger.lockPackages(orgIds);
    const admissions = new AdmissionFatesRepository(ledger.tx);
    const fates = await admissions.lock(admissionsNamed(fresh));
    const settledLines = await admissions.settledLines(settlementsVoided(fresh, fates));
    const holds = await this.lockHolds(ledger, fresh, fates);
    const result = postEvents(fresh, {
      packages,
      holds,
      prices,
      fixedCosts: this.config.ACTION_FIXED_COSTS,
      holdGraceMs: this.config.HOLD_GRACE_SECONDS * 1000,
      fates,
      settledLines,
    });
    await ledger.writePosting({
      packages: [...packages.values()].flat().filter((p) => result.touchedPackages.has(p.id)),
      holds: [...holds.values()].filter((h) => h.dirty),
      entries: result.entries,
      rollups: result.rollups,
      sandboxRollups: result.sandboxRollups,
      // Depletion is raised once by the alert state machine (balance.depleted); overage is in the ledger.
      outbox: [],
      ledgerTopic: this.ledgerTopic,
      source: METERING_SOURCE,
    });
    await admissions.write([...fates.values()].filter((fate) => fate.dirty));
    for (const overrun of result.overruns) {
      this.logger.warn(overrun, 'sandbox runtime beyond its hold: debited and flagged on the hold');
    }
  }

  private async lockHolds(
    ledger: LedgerRepository,
    events: MeteringEvent[],
    fates: Map<string, AdmissionFate>,
  ): Promise<Map<string, HoldState>> {
    const pairs = new Map<string, { orgId: string; sandboxId: string }>();
    for (const event of events) {
      // A void's sandbox is the one its admission settled (if it did).
      const sandboxId =
        event.kind === 'void'
          ? (fates.get(fateKey(event.orgId, event.admissionId))?.sandboxId ?? null)
          : sandboxOf(event);
      if (sandboxId) pairs.set(holdKey(event.orgId, sandboxId), { orgId: event.orgId, sandboxId });
    }
    const locked = await ledger.lockHolds([...pairs.values()]);
    return new Map(locked.map((hold) => [holdKey(hold.orgId, hold.sandboxId), hold]));
  }
}

/** The (org, sandbox, sequence) of the runtime reports among `events`. */
function reportSequences(events: MeteringEvent[]): ReportSequence[] {
  const reports: ReportSequence[] = [];
  for (const event of events) {
    if (event.kind === 'sandbox')
      reports.push({ orgId: event.orgId, sandboxId: event.sandboxId, sequence: event.sequence });
  }
  return reports;
}

/** The same event twice in one batch (by any dedupe key) is as much a duplicate as one redelivered later: first wins. */
function firstOccurrences(events: MeteringEvent[]): MeteringEvent[] {
  const seen = new Set<string>();
  return events.filter((event) => {
    const keys = dedupeKeys(event);
    if (keys.some((key) => seen.has(key))) return false;
    for (const key of keys) seen.add(key);
    return true;
  });
}

/** The events that settled the admissions the batch voids (their debits are reversed). */
function settlementsVoided(events: MeteringEvent[], fates: Map<string, AdmissionFate>) {
  const refs: { source: string; id: string }[] = [];
  for (const event of events) {
    if (event.kind !== 'void') continue;
    const fate = fates.get(fateKey(event.orgId, event.admissionId));
    if (fate?.fate === 'settled' && fate.eventSource && fate.eventId)
      refs.push({ source: fate.eventSource, id: fate.eventId });
  }
  return refs;
}

/** The admissions the batch's verified actions settle or its voids void, per known org: quota drops their provisional holds. */
function settledAdmissions(events: MeteringEvent[], known: Set<string>): Map<string, string[]> {
  const settled = new Map<string, string[]>();
  for (const event of events) {
    if ((event.kind !== 'action' && event.kind !== 'void') || !event.admissionId || !known.has(event.orgId)) continue;
    settled.set(event.orgId, [...(settled.get(event.orgId) ?? []), event.admissionId]);
  }
  return settled;
}
