import { Action, BalanceKind, sandboxCost } from '@tally/contracts';
import { burnDown, PackageBalance } from './burn-down';
import { MeteringEvent } from './metering-event';

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
  entryType: 'grant' | 'debit' | 'overage' | 'forfeit';
  /** Signed: grants positive; debits, overages and forfeits negative. */
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

/**
 * Posts fresh (deduplicated) events in order against the locked state of their organizations:
 * debits burn down packages (shortfall → overage entry + depletion), holds are placed, grown,
 * captured and released, and every event is counted in the hourly roll-ups. Pure: the caller
 * loads the state and writes the result in the same transaction.
 */
export function postEvents(events: MeteringEvent[], ctx: PostingContext): PostingResult {
  const entries: LedgerLine[] = [];
  const rollups = new Map<string, RollupLine>();
  const sandboxRollups = new Map<string, SandboxRollupLine>();
  const depletions = new Map<string, Depletion>();
  const touchedPackages = new Set<string>();
  const overruns: PostingResult['overruns'] = [];

  const debit = (
    event: MeteringEvent,
    kind: BalanceKind,
    amount: bigint,
    action: string | null,
    keyId: string | null,
  ) => {
    if (amount <= 0n) return;
    const { draws, shortfall } = burnDown(ctx.packages.get(event.orgId) ?? [], kind, amount, event.at);
    const base = { orgId: event.orgId, kind, eventSource: event.source, eventId: event.id, action, keyId };
    for (const draw of draws) {
      touchedPackages.add(draw.packageId);
      entries.push({ ...base, packageId: draw.packageId, entryType: 'debit', amount: -draw.amount });
    }
    if (shortfall > 0n) {
      // Work that already ran is never dropped: debit to zero, record the rest as overage.
      entries.push({ ...base, packageId: null, entryType: 'overage', amount: -shortfall });
      const key = `${event.orgId}|${kind}`;
      const seen = depletions.get(key);
      if (seen) seen.shortfall += shortfall;
      else
        depletions.set(key, {
          orgId: event.orgId,
          kind,
          shortfall,
          eventSource: event.source,
          eventId: event.id,
          at: event.at,
        });
    }
  };

  /** Counts the event in its hour's roll-up and, when it names a sandbox, in that sandbox's. */
  const rollup = (line: Omit<RollupLine, 'hour' | 'count'> & { at: Date; sandboxId: string | null }) => {
    const hour = hourOf(line.at);
    const { orgId, keyId, action, shape, kind, sandboxMs, agentMc, sandboxId } = line;
    const grain = [orgId, hour.getTime(), keyId, action, shape, kind].join('|');
    addTo(rollups, grain, { orgId, hour, keyId, action, shape, kind, sandboxMs, agentMc });
    if (sandboxId)
      addTo(sandboxRollups, `${orgId}|${hour.getTime()}|${sandboxId}`, { orgId, hour, sandboxId, sandboxMs, agentMc });
  };

  /** The sandbox's hold, created as an unplaced placeholder when a report overtook its create. */
  const holdFor = (orgId: string, sandboxId: string, shape: string, at: Date): HoldState => {
    const key = holdKey(orgId, sandboxId);
    let hold = ctx.holds.get(key);
    if (!hold) {
      hold = {
        orgId,
        sandboxId,
        shape,
        pricePerHour: ctx.prices.get(shape) ?? '1',
        admissionId: null,
        reservedMs: 0n,
        capturedMs: 0n,
        placed: false,
        status: 'active',
        lastSequence: -1,
        expiresAt: new Date(at.getTime() + ctx.holdGraceMs),
        releasedAt: null,
        dirty: true,
      };
      ctx.holds.set(key, hold);
    }
    return hold;
  };

  const release = (hold: HoldState, at: Date, status: HoldStatus = 'released') => {
    if (hold.status !== 'active') return;
    hold.status = status;
    hold.releasedAt = at;
    hold.dirty = true;
  };

  for (const event of events) {
    if (event.kind === 'action') {
      const fixed = ctx.fixedCosts.get(event.action) ?? 0n;
      debit(event, 'agent', fixed, event.action, event.keyId);
      rollup({
        orgId: event.orgId,
        at: event.at,
        keyId: event.keyId,
        action: event.action,
        shape: event.shape ?? '',
        kind: 'action',
        sandboxMs: 0n,
        agentMc: fixed,
        sandboxId: event.sandboxId,
      });
      if (!event.sandboxId) continue;
      if (event.action === 'sandbox.create' && event.shape && event.lifeSeconds !== null) {
        const hold = holdFor(event.orgId, event.sandboxId, event.shape, event.at);
        if (hold.placed) continue; // one hold per sandbox: a second create for it changes nothing
        hold.placed = true;
        hold.shape = event.shape;
        hold.pricePerHour = ctx.prices.get(event.shape) ?? hold.pricePerHour;
        hold.admissionId = event.admissionId;
        hold.reservedMs += sandboxCost(BigInt(event.lifeSeconds) * 1000n, hold.pricePerHour);
        const end = new Date(event.at.getTime() + event.lifeSeconds * 1000 + ctx.holdGraceMs);
        if (end > hold.expiresAt) hold.expiresAt = end;
        hold.dirty = true;
      } else if (event.action === 'sandbox.extend' && event.extendSeconds !== null) {
        const hold = holdFor(event.orgId, event.sandboxId, event.shape ?? '', event.at);
        if (hold.status !== 'active') continue; // the sandbox is gone: nothing left to reserve for
        hold.reservedMs += sandboxCost(BigInt(event.extendSeconds) * 1000n, hold.pricePerHour);
        hold.expiresAt = new Date(hold.expiresAt.getTime() + event.extendSeconds * 1000);
        hold.dirty = true;
      } else if (event.action === 'sandbox.delete') {
        release(holdFor(event.orgId, event.sandboxId, event.shape ?? '', event.at), event.at);
      }
    } else if (event.kind === 'sandbox') {
      const hold = holdFor(event.orgId, event.sandboxId, event.shape, event.at);
      const cost = sandboxCost(event.runtimeMs, hold.pricePerHour);
      const before = overrun(hold);
      hold.capturedMs += cost;
      if (event.sequence > hold.lastSequence) hold.lastSequence = event.sequence;
      // A sandbox that still reports is alive: its hold must not expire under it.
      const alive = new Date(event.at.getTime() + ctx.holdGraceMs);
      if (alive > hold.expiresAt) hold.expiresAt = alive;
      hold.dirty = true;
      if (overrun(hold) > before)
        overruns.push({ orgId: event.orgId, sandboxId: event.sandboxId, overrunMs: overrun(hold) });
      debit(event, 'sandbox', cost, 'sandbox.runtime', null);
      if (event.type === 'sandbox.stopped') release(hold, event.at);
      rollup({
        orgId: event.orgId,
        at: event.at,
        keyId: '',
        action: event.type,
        shape: hold.shape,
        kind: 'sandbox_runtime',
        sandboxMs: cost,
        agentMc: 0n,
        sandboxId: event.sandboxId,
      });
    } else {
      debit(event, 'agent', event.credits, `agent.${event.usageKind}`, null);
      rollup({
        orgId: event.orgId,
        at: event.at,
        keyId: '',
        action: 'agent.consumed',
        shape: '',
        kind: event.usageKind,
        sandboxMs: 0n,
        agentMc: event.credits,
        sandboxId: null,
      });
    }
  }
  return {
    entries,
    rollups: [...rollups.values()],
    sandboxRollups: [...sandboxRollups.values()],
    depletions: [...depletions.values()],
    touchedPackages,
    overruns,
  };
}
