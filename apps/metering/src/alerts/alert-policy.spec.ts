import fc from 'fast-check';
import {
  AlertDecision,
  AlertPolicy,
  AlertState,
  burnRatePerHour,
  depletionTime,
  evaluateAlerts,
  initialAlertState,
  thresholdCrossed,
} from './alert-policy';

const policy: AlertPolicy = { thresholds: [50, 80, 95, 100], forecastHorizonMs: 24 * 3_600_000 };
const at = new Date('2026-01-01T12:30:00Z');
const snap = (total: bigint, remaining: bigint, burnPerHour = 0n, when = at) => ({
  kind: 'agent' as const,
  total,
  remaining,
  burnPerHour,
  at: when,
});

function run(steps: { total: bigint; remaining: bigint; burn?: bigint }[]) {
  let state: AlertState = initialAlertState();
  const fired: AlertDecision[] = [];
  for (const step of steps) {
    const result = evaluateAlerts(state, snap(step.total, step.remaining, step.burn ?? 0n), policy);
    state = result.state;
    fired.push(...result.alerts);
  }
  return { state, fired };
}

describe('depletion alert state machine', () => {
  it('fires each threshold once on the way down, in order', () => {
    const { fired } = run([
      { total: 100n, remaining: 60n },
      { total: 100n, remaining: 50n },
      { total: 100n, remaining: 45n },
      { total: 100n, remaining: 20n },
      { total: 100n, remaining: 4n },
      { total: 100n, remaining: 0n },
      { total: 100n, remaining: 0n },
    ]);
    expect(fired.map((a) => (a.type === 'threshold' ? a.threshold : a.type))).toEqual([50, 80, 95, 'depleted']);
  });

  it('one change crossing several thresholds raises only the highest; the lower ones are passed', () => {
    const { fired, state } = run([
      { total: 100n, remaining: 100n },
      { total: 100n, remaining: 10n }, // 90 % at once: 80 raised, 50 passed
      { total: 100n, remaining: 0n }, // empty: depleted raised, 95 passed
    ]);
    expect(fired.map((a) => (a.type === 'threshold' ? a.threshold : a.type))).toEqual([80, 'depleted']);
    expect(state.thresholds['50']).toEqual({ fired: true, count: 0 });
    expect(state.thresholds['95']).toEqual({ fired: true, count: 0 });
  });

  it('depleted fires once at zero, also when overage follows, and resolves once after a top-up', () => {
    const { fired, state } = run([
      { total: 100n, remaining: 0n },
      { total: 100n, remaining: -20n }, // overage reported: no second alert
      { total: 100n, remaining: -50n },
      { total: 200n, remaining: 50n }, // a grant of 100 covers the overage and leaves 50
      { total: 200n, remaining: 60n },
    ]);
    expect(fired.map((a) => [a.type, a.sequence])).toEqual([
      ['depleted', 1],
      ['replenished', 1],
    ]);
    expect(state.thresholds.depleted).toEqual({ fired: false, count: 1 });
  });

  it('a package that expires is no top-up: depleted is not resolved by it', () => {
    const { fired } = run([
      { total: 100n, remaining: 0n },
      { total: 0n, remaining: 0n },
    ]);
    expect(fired.map((a) => a.type)).toEqual(['depleted']);
  });

  it('a grant that lifts the balance above the thresholds re-arms them, with a new sequence', () => {
    const { fired, state } = run([
      { total: 100n, remaining: 0n },
      { total: 200n, remaining: 100n }, // grant of 100: 50% consumed, so 50 stays fired
      { total: 200n, remaining: 0n },
    ]);
    expect(fired.map((a) => [a.type, a.sequence])).toEqual([
      ['depleted', 1],
      ['replenished', 1],
      ['depleted', 2],
    ]);
    expect(state.thresholds['50']).toEqual({ fired: true, count: 0 });
    expect(state.thresholds['80']).toEqual({ fired: true, count: 0 });
  });

  it('nothing granted: no threshold alert', () => {
    expect(run([{ total: 0n, remaining: 0n }]).fired).toEqual([]);
    expect(thresholdCrossed(0n, 0n, 100)).toBe(false);
  });

  it('forecast fires once when the balance empties within the horizon, and re-arms only on a grant', () => {
    const { fired } = run([
      { total: 1000n, remaining: 900n, burn: 10n }, // 90 h: no
      { total: 1000n, remaining: 800n, burn: 100n }, // 8 h: fire
      { total: 1000n, remaining: 790n, burn: 1n }, // estimate dropped: stays fired (no grant)
      { total: 1000n, remaining: 700n, burn: 100n }, // still within: no refire
      { total: 2000n, remaining: 1700n, burn: 10n }, // grant: 170 h, re-armed
      { total: 2000n, remaining: 1600n, burn: 100n }, // 16 h: fires again
    ]);
    const forecasts = fired.filter((a) => a.type === 'forecast');
    expect(forecasts.map((a) => a.sequence)).toEqual([1, 2]);
    expect(forecasts[0].type === 'forecast' && forecasts[0].depletionAt.toISOString()).toBe('2026-01-01T20:30:00.000Z');
  });

  it('property: along any sequence of debits and grants, each threshold fires at most once between re-arms', () => {
    const op = fc.oneof(
      fc.record({ debit: fc.bigInt({ min: 0n, max: 500n }) }),
      fc.record({ grant: fc.bigInt({ min: 1n, max: 500n }) }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1000n }), fc.array(op, { maxLength: 60 }), (initial, ops) => {
        let total = initial;
        let remaining = initial;
        let state = initialAlertState();
        const lastFire = new Map<number, number>();
        for (let i = 0; i < ops.length; i++) {
          const o = ops[i];
          if ('debit' in o) remaining = remaining - o.debit < 0n ? 0n : remaining - o.debit;
          else {
            total += o.grant;
            remaining += o.grant;
          }
          const result = evaluateAlerts(state, snap(total, remaining), policy);
          for (const alert of result.alerts) {
            if (alert.type !== 'threshold') continue;
            // Fired now means: crossed now, and it was not fired in the previous state.
            expect(thresholdCrossed(total, remaining, alert.threshold)).toBe(true);
            expect(state.thresholds[String(alert.threshold)]?.fired ?? false).toBe(false);
            lastFire.set(alert.threshold, i);
          }
          // One delivery per change at most: the highest threshold crossed (depletion counts as 100).
          expect(result.alerts.filter((a) => a.type === 'threshold' || a.type === 'depleted').length).toBeLessThan(2);
          state = result.state;
          // The state always says exactly which thresholds are crossed (100: the depletion entry).
          for (const pct of policy.thresholds)
            expect(state.thresholds[pct >= 100 ? 'depleted' : String(pct)].fired).toBe(
              thresholdCrossed(total, remaining, pct),
            );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('property: a steady burn fires the forecast exactly once, whatever the noise in the rate estimate', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1_000n, max: 10_000_000n }),
        fc.array(fc.integer({ min: 50, max: 150 }), { minLength: 20, maxLength: 80 }),
        (balance, noise) => {
          const burn = balance / 10n; // empties in 10 h
          let remaining = balance;
          let state = initialAlertState();
          let count = 0;
          const step = balance / BigInt(noise.length);
          for (const pct of noise) {
            remaining = remaining - step < 0n ? 0n : remaining - step;
            const result = evaluateAlerts(state, snap(balance, remaining, (burn * BigInt(pct)) / 100n), policy);
            count += result.alerts.filter((a) => a.type === 'forecast').length;
            state = result.state;
          }
          expect(count).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: returns the previous state itself exactly when nothing changed, and never mutates it', () => {
    const json = (state: AlertState) => JSON.stringify(state, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            total: fc.bigInt({ min: 0n, max: 1_000n }),
            remaining: fc.bigInt({ min: 0n, max: 1_000n }),
            burn: fc.bigInt({ min: 0n, max: 2_000n }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (steps) => {
          let state = initialAlertState();
          for (const step of steps) {
            const before = json(state);
            const result = evaluateAlerts(state, snap(step.total, step.remaining, step.burn), policy);
            expect(json(state)).toBe(before);
            expect(result.state === state).toBe(json(result.state) === before);
            state = result.state;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('burn rate from hourly buckets counts the window up to now', () => {
    const h = (iso: string, amount: bigint) => ({ hour: new Date(iso), amount });
    const buckets = [h('2026-01-01T10:00:00Z', 999n), h('2026-01-01T11:00:00Z', 600n), h('2026-01-01T12:00:00Z', 300n)];
    // window: 11:00 → 12:30 (1.5 h), 900 units → 600/h
    expect(burnRatePerHour(buckets, at, 1)).toBe(600n);
    expect(burnRatePerHour([], at, 24)).toBe(0n);
    expect(depletionTime(0n, 10n, at)).toBeNull();
    expect(depletionTime(10n, 0n, at)).toBeNull();
  });
});
