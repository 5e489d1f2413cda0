import { BalanceKind } from '@tally/contracts';

/**
 * The depletion-alert state machine, pure (no I/O, integers only). Per organization and balance
 * kind: each threshold below 100 (a percentage of the active package total consumed) fires once
 * when crossed and re-arms only when the balance is lifted back below it (a grant); when one
 * change crosses several, only the highest is raised and the lower ones are marked passed.
 * Depletion (nothing available: 100 %) is its own alert, `balance.depleted`, raised once when the
 * remaining balance reaches zero whether or not overage follows, and resolved once
 * (`balance.replenished`) when a grant brings it back. The forecast alert fires once when, at the
 * current burn rate, the balance empties within the horizon, and re-arms only when a grant lifts
 * the remaining balance above what it was when it fired (so a wobbling estimate never refires).
 */
export interface AlertState {
  /**
   * Threshold percent → whether it fired (or was passed) since last armed, and how many times it
   * was raised; the key `depleted` is the depletion alert's.
   */
  thresholds: Record<string, { fired: boolean; count: number }>;
  forecastFired: boolean;
  forecastCount: number;
  forecastRemaining: bigint | null;
}

export interface BalanceSnapshot {
  kind: BalanceKind;
  /** Granted units of the packages active now. */
  total: bigint;
  /** Remaining units of those packages. */
  remaining: bigint;
  /** Consumption per hour at the current rate (integer units, rounded down). */
  burnPerHour: bigint;
  at: Date;
}

export interface AlertPolicy {
  /** Integer percentages in (0, 100], e.g. [50, 80, 95, 100]. */
  thresholds: number[];
  forecastHorizonMs: number;
}

export type AlertDecision =
  | { type: 'threshold'; threshold: number; sequence: number; remaining: bigint }
  | { type: 'depleted' | 'replenished'; sequence: number; remaining: bigint }
  | { type: 'forecast'; sequence: number; remaining: bigint; depletionAt: Date };

export const DEFAULT_THRESHOLDS = [50, 80, 95, 100];
/** Depletion sorts above every threshold (it is the last one a balance crosses). */
const DEPLETED = 101;
const DEPLETED_KEY = 'depleted';

export const initialAlertState = (): AlertState => ({
  thresholds: {},
  forecastFired: false,
  forecastCount: 0,
  forecastRemaining: null,
});

/** consumed / total ≥ pct / 100, in integers; nothing granted means nothing to alert about. */
export function thresholdCrossed(total: bigint, remaining: bigint, pct: number): boolean {
  if (total <= 0n) return false;
  if (pct >= 100) return remaining <= 0n;
  const consumed = total - remaining;
  return consumed * 100n >= BigInt(pct) * total;
}

/** When the balance runs out at this burn rate; null if it does not burn (or is already empty). */
export function depletionTime(remaining: bigint, burnPerHour: bigint, at: Date): Date | null {
  if (burnPerHour <= 0n || remaining <= 0n) return null;
  const ms = (remaining * 3_600_000n) / burnPerHour;
  // Beyond ~285,000 years Date cannot represent it; such a forecast is "never" anyway.
  if (ms > 8_000_000_000_000_000n) return null;
  return new Date(at.getTime() + Number(ms));
}

/**
 * The next state and the alerts to raise. Returns `previous` itself when nothing changed (no flag
 * moved, no threshold entry added): a caller persists the state only when it is a new object. It
 * runs for every organization and kind of every batch, so it copies only what it changes.
 */
export function evaluateAlerts(
  previous: AlertState,
  snapshot: BalanceSnapshot,
  policy: AlertPolicy,
): { state: AlertState; alerts: AlertDecision[] } {
  const draft = new StateDraft(previous);
  const alerts = evaluateThresholds(draft, snapshot, policy.thresholds);
  const forecast = evaluateForecast(draft, snapshot, policy.forecastHorizonMs);
  if (forecast) alerts.push(forecast);
  return { state: draft.state, alerts };
}

/** Copy-on-write over `previous`: copied (its entries included) on the first write only. */
class StateDraft {
  state: AlertState;

  constructor(private readonly previous: AlertState) {
    this.state = previous;
  }

  writable(): AlertState {
    if (this.state === this.previous) {
      const previous = this.previous;
      this.state = {
        thresholds: Object.fromEntries(Object.entries(previous.thresholds).map(([k, v]) => [k, { ...v }])),
        forecastFired: previous.forecastFired,
        forecastCount: previous.forecastCount,
        forecastRemaining: previous.forecastRemaining,
      };
    }
    return this.state;
  }

  /** The threshold's entry, added (a change) the first time the policy names it. */
  threshold(key: string): { fired: boolean; count: number } {
    if (!this.state.thresholds[key]) this.writable().thresholds[key] = { fired: false, count: 0 };
    return this.state.thresholds[key];
  }
}

/** Thresholds and depletion, highest first: the first newly crossed is raised, those below it only marked passed. */
function evaluateThresholds(draft: StateDraft, snapshot: BalanceSnapshot, thresholds: number[]): AlertDecision[] {
  const alerts: AlertDecision[] = [];
  let raised = false;
  for (const pct of [...thresholds, DEPLETED].sort((a, b) => b - a)) {
    if (pct === 100) continue; // 100 % is depletion, raised as balance.depleted
    const key = pct === DEPLETED ? DEPLETED_KEY : String(pct);
    const entry = draft.threshold(key);
    const crossed = thresholdCrossed(snapshot.total, snapshot.remaining, Math.min(pct, 100));
    // Depletion resolves only with a balance to use again (a package that expired is no top-up).
    if (pct === DEPLETED && !crossed && snapshot.remaining <= 0n) continue;
    if (crossed && !entry.fired) {
      const next = draft.writable().thresholds[key];
      next.fired = true;
      if (raised) continue;
      raised = true;
      next.count += 1;
      alerts.push(crossedAlert(pct, next.count, snapshot.remaining));
    } else if (!crossed && entry.fired) {
      draft.writable().thresholds[key].fired = false; // lifted above it by a grant: it may fire again
      if (pct === DEPLETED && entry.count > 0)
        alerts.push({ type: 'replenished', sequence: entry.count, remaining: snapshot.remaining });
    }
  }
  return alerts;
}

function crossedAlert(pct: number, sequence: number, remaining: bigint): AlertDecision {
  return pct === DEPLETED
    ? { type: 'depleted', sequence, remaining }
    : { type: 'threshold', threshold: pct, sequence, remaining };
}

/** Fires when the balance empties within the horizon; re-arms only when a grant lifts it above where it fired. */
function evaluateForecast(draft: StateDraft, snapshot: BalanceSnapshot, horizonMs: number): AlertDecision | null {
  const depletionAt = depletionTime(snapshot.remaining, snapshot.burnPerHour, snapshot.at);
  const soon = depletionAt !== null && depletionAt.getTime() - snapshot.at.getTime() <= horizonMs;
  const state = draft.state;
  if (soon && !state.forecastFired) {
    const next = draft.writable();
    next.forecastFired = true;
    next.forecastCount += 1;
    next.forecastRemaining = snapshot.remaining;
    return { type: 'forecast', sequence: next.forecastCount, remaining: snapshot.remaining, depletionAt };
  }
  const lifted = state.forecastRemaining !== null && snapshot.remaining > state.forecastRemaining;
  if (!soon && state.forecastFired && lifted) {
    const next = draft.writable();
    next.forecastFired = false;
    next.forecastRemaining = null;
  }
  return null;
}

/**
 * Burn rate from hourly consumption buckets, over the window that starts `windowHours` before
 * the start of the current hour and ends at `at` (the partial current hour counts in full length).
 * Integer units per hour, rounded down: an underestimate errs on the side of a later forecast.
 */
export function burnRatePerHour(buckets: { hour: Date; amount: bigint }[], at: Date, windowHours: number): bigint {
  const hourStart = Math.floor(at.getTime() / 3_600_000) * 3_600_000;
  const from = hourStart - windowHours * 3_600_000;
  const span = BigInt(at.getTime() - from);
  if (span <= 0n) return 0n;
  let sum = 0n;
  for (const bucket of buckets) {
    const t = bucket.hour.getTime();
    if (t >= from && t <= at.getTime()) sum += bucket.amount;
  }
  return (sum * 3_600_000n) / span;
}
