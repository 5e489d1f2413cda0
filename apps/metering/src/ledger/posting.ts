import { Action, BalanceKind, sandboxCost } from '@tally/contracts';
import { burnDown, PackageBalance } from './burn-down';
import { AdmissionFate, admissionOpen, postVoid, settleAdmission } from './admission-fates';
import { ActionEvent, AgentUsageEvent, MeteringEvent, SandboxUsageEvent } from './metering-event';

export type HoldStatus = 'active' | 'released' | 'expired';

/** A sandbox's durable hold as posting sees and changes it (integer sandbox-ms). */
export interface HoldState {
  orgId: string;
  sandboxId: string;
  shape: string;
  pricePerHour: string;
  admissionId: string | null;
  reservedMs: bigint;
  /** Everything runtime reports cost for this sandbox, within the hold or beyond it. */
  capturedMs: bigint;
  /** False while only runtime reports, extensions or a delete have been seen (they can overtake the create). */
  placed: boolean;
  status: HoldStatus;
  lastSequence: number;
  expiresAt: Date;
  releasedAt: Date | null;
  /** Changed by this batch: to be written. */
  dirty: boolean;
}

/** Outstanding reservation: what admission must still keep aside for this sandbox. */
export const outstanding = (hold: HoldState): bigint =>
  hold.status === 'active' && hold.reservedMs > hold.capturedMs ? hold.reservedMs - hold.capturedMs : 0n;
/** Runtime cost beyond the hold (debited all the same, and flagged). */
export const overrun = (hold: HoldState): bigint =>
  hold.capturedMs > hold.reservedMs ? hold.capturedMs - hold.reservedMs : 0n;

export interface LedgerLine {
  orgId: string;
  packageId: string | null;
  kind: BalanceKind;
  entryType: 'grant' | 'debit' | 'overage' | 'forfeit' | 'reversal';
  /** Signed: grants and reversals positive; debits, overages and forfeits negative. */
  amount: bigint;
  eventSource: string;
  eventId: string;
  action: string | null;
  keyId: string | null;
}

export interface RollupLine {
  orgId: string;
  hour: Date;
  keyId: string;
  action: string;
  shape: string;
  kind: string;
  count: bigint;
  sandboxMs: bigint;
  agentMc: bigint;
}

/**
 * Hourly usage of one sandbox (runtime reports and the verified actions that name it): the
 * `groupBy=sandbox` series. Events that name no sandbox are only in the main roll-up.
 */
export interface SandboxRollupLine {
  orgId: string;
  hour: Date;
  sandboxId: string;
  count: bigint;
  sandboxMs: bigint;
  agentMc: bigint;
}

export interface Depletion {
  orgId: string;
  kind: BalanceKind;
  shortfall: bigint;
  /** The first event that found the balance short: names the alert deterministically. */
  eventSource: string;
  eventId: string;
  at: Date;
}

export interface PostingContext {
  packages: Map<string, PackageBalance[]>;
  /** Holds by `${orgId}|${sandboxId}`; posting adds and changes entries (marked dirty). */
  holds: Map<string, HoldState>;
  /** Shape name → price per hour (decimal string). */
  prices: Map<string, string>;
  /** Actions with a fixed agent-credit cost, in milli-credits. */
  fixedCosts: Map<Action, bigint>;
  /** How long after its planned end a hold releases itself (the runtime's last report may be late). */
  holdGraceMs: number;
  /** Admission fates by `${orgId}|${admissionId}` (admission-fates.ts); posting adds and changes them. */
  fates?: Map<string, AdmissionFate>;
  /** Debit and overage lines of the events that settled the admissions voided here, by `source|id`. */
  settledLines?: Map<string, LedgerLine[]>;
}

export interface PostingResult {
  entries: LedgerLine[];
  rollups: RollupLine[];
  sandboxRollups: SandboxRollupLine[];
  depletions: Depletion[];
  /** Ids of packages whose remainders changed. */
  touchedPackages: Set<string>;
  /** Runtime that went beyond its hold, to flag. */
  overruns: { orgId: string; sandboxId: string; overrunMs: bigint }[];
}

export const holdKey = (orgId: string, sandboxId: string) => `${orgId}|${sandboxId}`;
const hourOf = (at: Date) => new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);

/** Adds one event to the roll-up line of its grain, starting the line at the grain's first event. */
function addTo<L extends { count: bigint; sandboxMs: bigint; agentMc: bigint }>(
  lines: Map<string, L>,
  grain: string,
  line: Omit<L, 'count'>,
): void {
  const current = lines.get(grain);
  if (!current) {
    lines.set(grain, { ...line, count: 1n } as L);
    return;
  }
  current.count += 1n;
  current.sandboxMs += line.sandboxMs;
  current.agentMc += line.agentMc;
}

/** No single amount beyond this: exact in Redis (doubles) and far from int8, whatever the shape's price. */
export const MAX_POSTED_AMOUNT = 2n ** 53n - 1n;

/** An amount within `MAX_POSTED_AMOUNT`; beyond it the event is poison (a RangeError is isolated). */
function bounded(amount: bigint, what: string): bigint {
  if (amount > MAX_POSTED_AMOUNT) throw new RangeError(`${what} ${amount} is above ${MAX_POSTED_AMOUNT}`);
  return amount;
}

type RollupInput = Omit<RollupLine, 'hour' | 'count'> & { at: Date; sandboxId: string | null };

/**
 * What one posting accumulates across its events: ledger lines, roll-ups, depletions, touched
 * packages and overruns, over the locked state in its context (which it changes in place).
 */
export class PostingBook {
  readonly entries: LedgerLine[] = [];
  private readonly rollups = new Map<string, RollupLine>();
  private readonly sandboxRollups = new Map<string, SandboxRollupLine>();
  private readonly depletions = new Map<string, Depletion>();
  private readonly touchedPackages = new Set<string>();
  private readonly overruns: PostingResult['overruns'] = [];

  constructor(readonly ctx: PostingContext) {}

  /** Burns `amount` down the org's packages; a shortfall becomes an overage entry and a depletion. */
  debit(event: MeteringEvent, kind: BalanceKind, amount: bigint, action: string | null, keyId: string | null) {
    if (bounded(amount, 'a debit') <= 0n) return;
    const { draws, shortfall } = burnDown(this.ctx.packages.get(event.orgId) ?? [], kind, amount, event.at);
    const base = { orgId: event.orgId, kind, eventSource: event.source, eventId: event.id, action, keyId };
    for (const draw of draws) {
      this.touchedPackages.add(draw.packageId);
      this.entries.push({ ...base, packageId: draw.packageId, entryType: 'debit', amount: -draw.amount });
    }
    if (shortfall === 0n) return;
    // Work that already ran is never dropped: debit to zero, record the rest as overage.
    this.entries.push({ ...base, packageId: null, entryType: 'overage', amount: -shortfall });
    this.deplete(event, kind, shortfall);
  }

  private deplete(event: MeteringEvent, kind: BalanceKind, shortfall: bigint) {
    const seen = this.depletions.get(`${event.orgId}|${kind}`);
    if (seen) seen.shortfall += shortfall;
    else {
      const { orgId, source: eventSource, id: eventId, at } = event;
      this.depletions.set(`${orgId}|${kind}`, { orgId, kind, shortfall, eventSource, eventId, at });
    }
  }

  /** Counts the event in its hour's roll-up and, when it names a sandbox, in that sandbox's. */
  rollup(line: RollupInput) {
    const hour = hourOf(line.at);
    const { orgId, keyId, action, shape, kind, sandboxMs, agentMc, sandboxId } = line;
    const grain = [orgId, hour.getTime(), keyId, action, shape, kind].join('|');
    addTo(this.rollups, grain, { orgId, hour, keyId, action, shape, kind, sandboxMs, agentMc });
    if (sandboxId)
      addTo(this.sandboxRollups, `${orgId}|${hour.getTime()}|${sandboxId}`, {
        orgId,
        hour,
        sandboxId,
        sandboxMs,
        agentMc,
      });
  }

  /**
   * The sandbox's hold, created as an unplaced placeholder when a report, extend or delete
   * overtook its create. A placeholder takes its price from the first event naming a shape, so
   * a report is never priced at a default because a shapeless delete came first.
   */
  holdFor(orgId: string, sandboxId: string, shape: string, at: Date): HoldState {
    const key = holdKey(orgId, sandboxId);
    const existing = this.ctx.holds.get(key);
    if (existing && !existing.placed && existing.shape === '' && shape !== '') {
      existing.shape = shape;
      existing.pricePerHour = this.ctx.prices.get(shape) ?? existing.pricePerHour;
      existing.dirty = true;
    }
    if (existing) return existing;
    const hold: HoldState = {
      orgId,
      sandboxId,
      shape,
      pricePerHour: this.ctx.prices.get(shape) ?? '1',
      admissionId: null,
      reservedMs: 0n,
      capturedMs: 0n,
      placed: false,
      status: 'active',
      lastSequence: -1,
      expiresAt: new Date(at.getTime() + this.ctx.holdGraceMs),
      releasedAt: null,
      dirty: true,
    };
    this.ctx.holds.set(key, hold);
    return hold;
  }

  release(hold: HoldState, at: Date, status: HoldStatus = 'released') {
    if (hold.status !== 'active') return;
    hold.status = status;
    hold.releasedAt = at;
    hold.dirty = true;
  }

  /** Undoes a debit or overage line of a voided admission: the opposite entry, its package credited back. */
  reverse(line: LedgerLine, event: MeteringEvent) {
    const { orgId, packageId, kind, action, keyId } = line;
    const amount = -line.amount;
    this.entries.push({
      orgId,
      packageId,
      kind,
      entryType: 'reversal',
      amount,
      eventSource: event.source,
      eventId: event.id,
      action,
      keyId,
    });
    const pkg = packageId ? this.ctx.packages.get(orgId)?.find((p) => p.id === packageId) : undefined;
    if (!pkg) return;
    pkg.remaining[kind] += amount;
    this.touchedPackages.add(pkg.id);
  }

  flagOverrun(hold: HoldState) {
    this.overruns.push({ orgId: hold.orgId, sandboxId: hold.sandboxId, overrunMs: overrun(hold) });
  }

  result(): PostingResult {
    return {
      entries: this.entries,
      rollups: [...this.rollups.values()],
      sandboxRollups: [...this.sandboxRollups.values()],
      depletions: [...this.depletions.values()],
      touchedPackages: this.touchedPackages,
      overruns: this.overruns,
    };
  }
}

const unreachable = (value: never): never => {
  throw new RangeError(`no posting for event kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
};

/**
 * Posts fresh (deduplicated) events in order against the locked state of their organizations:
 * debits burn down packages (shortfall → overage entry + depletion), holds are placed, grown,
 * captured and released, and every event is counted in the hourly roll-ups. Pure: the caller
 * loads the state and writes the result in the same transaction.
 */
export function postEvents(events: MeteringEvent[], ctx: PostingContext): PostingResult {
  const book = new PostingBook(ctx);
  for (const event of events) postEvent(book, event);
  return book.result();
}

/** One function per event kind: a new kind does not compile until it has its posting. */
export function postEvent(book: PostingBook, event: MeteringEvent): void {
  switch (event.kind) {
    case 'action':
      return postAction(book, event);
    case 'sandbox':
      return postSandboxReport(book, event);
    case 'agent':
      return postAgentUsage(book, event);
    case 'void':
      return postVoid(book, event);
    default:
      return unreachable(event);
  }
}

/**
 * A verified action settles its admission, unless the admission already has a fate: voided (the
 * void came first) or settled by another event. Then it bills nothing.
 */
function postAction(book: PostingBook, event: ActionEvent): void {
  if (!admissionOpen(book, event)) return;
  settleAdmission(book, event, applyAction(book, event));
}

/** A verified action: its fixed cost, its roll-up, and what it does to its sandbox's hold (the sandbox-ms it reserved). */
function applyAction(book: PostingBook, event: ActionEvent): bigint {
  const fixed = book.ctx.fixedCosts.get(event.action) ?? 0n;
  book.debit(event, 'agent', fixed, event.action, event.keyId);
  const { orgId, at, keyId, action, sandboxId } = event;
  book.rollup({
    orgId,
    at,
    keyId,
    action,
    shape: event.shape ?? '',
    kind: 'action',
    sandboxMs: 0n,
    agentMc: fixed,
    sandboxId,
  });
  if (!sandboxId) return 0n;
  if (action === 'sandbox.create') return placeHold(book, event, sandboxId);
  if (action === 'sandbox.extend') return extendHold(book, event, sandboxId);
  // The caller's params.shape says nothing about the sandbox: only a create or a report names its shape.
  if (action === 'sandbox.delete') book.release(book.holdFor(orgId, sandboxId, '', at), at);
  return 0n;
}

/** `sandbox.create`: reserves its lifetime at the shape's price (one hold per sandbox); returns what it reserved. */
function placeHold(book: PostingBook, event: ActionEvent, sandboxId: string): bigint {
  if (!event.shape || event.lifeSeconds === null) return 0n;
  const hold = book.holdFor(event.orgId, sandboxId, event.shape, event.at);
  if (hold.placed) return 0n; // a second create for the same sandbox changes nothing
  hold.placed = true;
  hold.shape = event.shape;
  hold.pricePerHour = book.ctx.prices.get(event.shape) ?? hold.pricePerHour;
  hold.admissionId = event.admissionId;
  const reserved = bounded(sandboxCost(BigInt(event.lifeSeconds) * 1000n, hold.pricePerHour), 'a hold');
  hold.reservedMs += reserved;
  const end = new Date(event.at.getTime() + event.lifeSeconds * 1000 + book.ctx.holdGraceMs);
  if (end > hold.expiresAt) hold.expiresAt = end;
  hold.dirty = true;
  return reserved;
}

/** `sandbox.extend`: grows a live hold at the hold's own price; returns what it reserved. */
function extendHold(book: PostingBook, event: ActionEvent, sandboxId: string): bigint {
  if (event.extendSeconds === null) return 0n;
  const hold = book.holdFor(event.orgId, sandboxId, '', event.at);
  if (hold.status !== 'active') return 0n; // the sandbox is gone: nothing left to reserve for
  const reserved = bounded(sandboxCost(BigInt(event.extendSeconds) * 1000n, hold.pricePerHour), 'an extension');
  hold.reservedMs += reserved;
  hold.expiresAt = new Date(hold.expiresAt.getTime() + event.extendSeconds * 1000);
  hold.dirty = true;
  return reserved;
}

/** A runtime report: captured against the hold, debited, and the hold released when it stopped. */
function postSandboxReport(book: PostingBook, event: SandboxUsageEvent): void {
  const hold = book.holdFor(event.orgId, event.sandboxId, event.shape, event.at);
  // Until a create places the hold, the report's own (catalogued) shape is the only price known.
  const price = hold.placed ? hold.pricePerHour : (book.ctx.prices.get(event.shape) ?? hold.pricePerHour);
  const cost = bounded(sandboxCost(event.runtimeMs, price), 'a runtime cost');
  const before = overrun(hold);
  hold.capturedMs += cost;
  if (event.sequence > hold.lastSequence) hold.lastSequence = event.sequence;
  // A sandbox that still reports is alive: its hold must not expire under it.
  const alive = new Date(event.at.getTime() + book.ctx.holdGraceMs);
  if (alive > hold.expiresAt) hold.expiresAt = alive;
  hold.dirty = true;
  if (overrun(hold) > before) book.flagOverrun(hold);
  book.debit(event, 'sandbox', cost, 'sandbox.runtime', null);
  if (event.type === 'sandbox.stopped') book.release(hold, event.at);
  const { orgId, at, type: action, sandboxId } = event;
  book.rollup({
    orgId,
    at,
    keyId: '',
    action,
    shape: hold.shape,
    kind: 'sandbox_runtime',
    sandboxMs: cost,
    agentMc: 0n,
    sandboxId,
  });
}

/** Agent credits consumed: debited, and counted by usage kind. */
function postAgentUsage(book: PostingBook, event: AgentUsageEvent): void {
  book.debit(event, 'agent', event.credits, `agent.${event.usageKind}`, null);
  const { orgId, at, credits: agentMc, usageKind: kind } = event;
  book.rollup({
    orgId,
    at,
    keyId: '',
    action: 'agent.consumed',
    shape: '',
    kind,
    sandboxMs: 0n,
    agentMc,
    sandboxId: null,
  });
}
