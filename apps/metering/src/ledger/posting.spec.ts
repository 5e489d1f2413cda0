import { sandboxCost } from '@tally/contracts';
import fc from 'fast-check';
import { PackageBalance } from './burn-down';
import { ActionEvent, MeteringEvent } from './metering-event';
import { HoldState, outstanding, postEvents, PostingContext } from './posting';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';
const T0 = new Date('2026-06-01T00:00:00Z');
const PRICES = new Map([
  ['micro', '0.5'],
  ['small', '1'],
  ['medium', '2'],
  ['gpu', '12.5'],
]);
let seq = 0;
const ref = (at = T0) => ({ source: 's', id: `e${seq++}`, topic: 't', partition: 0, offset: '0', orgId: ORG, at });

const context = (packages: PackageBalance[], holds = new Map<string, HoldState>()): PostingContext => ({
  packages: new Map([[ORG, packages]]),
  holds,
  prices: PRICES,
  fixedCosts: new Map([['agent.run', 1_000n]]),
  holdGraceMs: 60_000,
});
const pkg = (id: string, sandbox: bigint, agent: bigint, extra: Partial<PackageBalance> = {}): PackageBalance => ({
  id,
  priority: 0,
  notBefore: null,
  notAfter: null,
  grantedAt: new Date('2026-01-01T00:00:00Z'),
  remaining: { sandbox, agent },
  ...extra,
});
const create = (sandboxId: string, shape: string, lifeSeconds: number): ActionEvent => ({
  ...ref(),
  kind: 'action',
  action: 'sandbox.create',
  keyId: 'k',
  admissionId: null,
  sandboxId,
  shape,
  lifeSeconds,
  extendSeconds: null,
});
const report = (
  sandboxId: string,
  runtimeMs: bigint,
  type: 'sandbox.heartbeat' | 'sandbox.stopped' = 'sandbox.heartbeat',
  shape = 'small',
): MeteringEvent => ({ ...ref(), kind: 'sandbox', type, sandboxId, shape, runtimeMs, sequence: seq });

describe('postEvents: holds', () => {
  it('reserves maxLifeSeconds x pricePerHour, rounded half-up once', () => {
    const ctx = context([pkg('p', 10n ** 12n, 0n)]);
    postEvents([create('a', 'medium', 3600), create('b', 'gpu', 1), create('c', 'micro', 1)], ctx);
    expect(ctx.holds.get(`${ORG}|a`)!.reservedMs).toBe(7_200_000n);
    expect(ctx.holds.get(`${ORG}|b`)!.reservedMs).toBe(12_500n);
    expect(ctx.holds.get(`${ORG}|c`)!.reservedMs).toBe(500n);
    // runtime is priced per report: 1 ms at 0.5 rounds half-up to 1
    const result = postEvents([report('c', 1n, 'sandbox.heartbeat', 'micro')], ctx);
    expect(result.entries).toEqual([expect.objectContaining({ amount: -1n, entryType: 'debit', kind: 'sandbox' })]);
  });

  it('captures from the hold, flags runtime beyond it, and releases on stop', () => {
    const ctx = context([pkg('p', 10n ** 12n, 0n)]);
    postEvents([create('a', 'small', 10)], ctx);
    const result = postEvents([report('a', 4_000n), report('a', 8_000n, 'sandbox.stopped')], ctx);
    const hold = ctx.holds.get(`${ORG}|a`)!;
    expect(hold).toMatchObject({ capturedMs: 12_000n, status: 'released' });
    expect(outstanding(hold)).toBe(0n);
    expect(result.overruns).toEqual([{ orgId: ORG, sandboxId: 'a', overrunMs: 2_000n }]);
    expect(result.entries.reduce((s, e) => s + e.amount, 0n)).toBe(-12_000n);
  });

  it('is order-independent when a runtime report or delete overtakes the create', () => {
    const ctx = context([pkg('p', 10n ** 12n, 0n)]);
    postEvents([report('a', 1_000n)], ctx);
    postEvents([create('a', 'small', 10)], ctx);
    expect(ctx.holds.get(`${ORG}|a`)).toMatchObject({ reservedMs: 10_000n, capturedMs: 1_000n, status: 'active' });
    postEvents([{ ...create('b', 'small', 10), action: 'sandbox.delete', lifeSeconds: null }], ctx);
    postEvents([create('b', 'small', 10)], ctx);
    expect(outstanding(ctx.holds.get(`${ORG}|b`)!)).toBe(0n);
  });

  it('prices a report at its own shape when a shapeless delete or extend overtook the create (model check seed 1)', () => {
    const ctx = context([pkg('p', 10n ** 12n, 0n)]);
    const shapeless = { ...create('a', 'medium', 10), shape: null, lifeSeconds: null };
    postEvents([{ ...shapeless, action: 'sandbox.delete' }], ctx);
    const result = postEvents([report('a', 23_137n, 'sandbox.heartbeat', 'medium')], ctx);
    expect(result.entries).toEqual([expect.objectContaining({ amount: -46_274n, entryType: 'debit' })]);
    postEvents([{ ...shapeless, id: 'x', action: 'sandbox.extend', extendSeconds: 60, sandboxId: 'b' }], ctx);
    expect(postEvents([report('b', 1_000n, 'sandbox.heartbeat', 'gpu')], ctx).entries).toEqual([
      expect.objectContaining({ amount: -12_500n }),
    ]);
  });

  it("prices runtime at the report's shape until a create places the hold, whatever a delete or extend claimed", () => {
    const ctx = context([pkg('p', 10n ** 12n, 0n)]);
    const claimed = { ...create('a', 'micro', 10), lifeSeconds: null };
    postEvents([{ ...claimed, action: 'sandbox.delete' }], ctx);
    expect(postEvents([report('a', 3_600_000n, 'sandbox.heartbeat', 'gpu')], ctx).entries).toEqual([
      expect.objectContaining({ amount: -45_000_000n }),
    ]);
  });

  it('places one hold per sandbox however many creates name it', () => {
    const ctx = context([pkg('p', 10n ** 12n, 0n)]);
    postEvents([create('a', 'small', 10), create('a', 'small', 10)], ctx);
    expect(ctx.holds.get(`${ORG}|a`)!.reservedMs).toBe(10_000n);
  });
});

describe('postEvents: roll-ups', () => {
  it('counts every event per grain and, when it names a sandbox, per sandbox and hour', () => {
    const ctx = context([pkg('p', 10n ** 12n, 10n ** 6n)]);
    const later = new Date(T0.getTime() + 3_600_000);
    const result = postEvents(
      [
        create('a', 'medium', 600),
        report('a', 1_000n, 'sandbox.heartbeat', 'medium'),
        report('a', 2_000n, 'sandbox.heartbeat', 'medium'),
        { ...report('a', 500n, 'sandbox.stopped', 'medium'), at: later },
        report('b', 4_000n),
        { ...ref(), kind: 'agent', runId: 'r', credits: 7n, usageKind: 'tool' },
        { ...create('c', 'small', 60), action: 'agent.run', sandboxId: null, shape: null, lifeSeconds: null },
      ],
      ctx,
    );
    const bySandbox = result.sandboxRollups.map((l) => [l.sandboxId, l.hour.toISOString(), l.count, l.sandboxMs]);
    expect(bySandbox).toEqual([
      ['a', T0.toISOString(), 3n, 6_000n],
      ['a', later.toISOString(), 1n, 1_000n],
      ['b', T0.toISOString(), 1n, 4_000n],
    ]);
    // the main roll-up counts all seven; the agent run's fixed cost is outside any sandbox
    expect(result.rollups.reduce((s, l) => s + l.count, 0n)).toBe(7n);
    expect(result.rollups.reduce((s, l) => s + l.sandboxMs, 0n)).toBe(11_000n);
    expect(result.sandboxRollups.reduce((s, l) => s + l.agentMc, 0n)).toBe(0n);
  });
});

describe('postEvents: debits', () => {
  it('records a shortfall as overage and one depletion per org and kind', () => {
    const ctx = context([pkg('p', 0n, 1_500n)]);
    const agent = (credits: bigint): MeteringEvent => ({
      ...ref(),
      kind: 'agent',
      runId: 'r',
      credits,
      usageKind: 'tool',
    });
    const result = postEvents([agent(1_000n), agent(1_000n), agent(700n)], ctx);
    expect(result.entries.filter((e) => e.entryType === 'overage').map((e) => e.amount)).toEqual([-500n, -700n]);
    expect(result.depletions).toEqual([expect.objectContaining({ kind: 'agent', shortfall: 1_200n })]);
  });

  // docs/ARCHITECTURE.md §5 invariant under random packages (priorities, expiries), holds and debits:
  // sum(grants) - sum(debits) = sum(remaining); every cost is either drawn or overage.
  it('keeps the invariant for random grants, holds and debits (property)', () => {
    const packageArb = fc.record({
      sandbox: fc.bigInt({ min: 0n, max: 10n ** 9n }),
      agent: fc.bigInt({ min: 0n, max: 10n ** 7n }),
      priority: fc.integer({ min: -2, max: 2 }),
      expiresInMin: fc.option(fc.integer({ min: -60, max: 600 }), { nil: null }),
    });
    const eventArb = fc.oneof(
      fc.record({
        kind: fc.constant('create' as const),
        sandbox: fc.integer({ min: 0, max: 4 }),
        shape: fc.constantFrom(...PRICES.keys()),
        life: fc.integer({ min: 1, max: 86_400 }),
      }),
      fc.record({
        kind: fc.constant('report' as const),
        sandbox: fc.integer({ min: 0, max: 4 }),
        ms: fc.bigInt({ min: 0n, max: 10n ** 8n }),
        stop: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('agent' as const), credits: fc.bigInt({ min: 0n, max: 10n ** 6n }) }),
      fc.record({ kind: fc.constant('run' as const), minute: fc.integer({ min: 0, max: 120 }) }),
    );
    fc.assert(
      fc.property(fc.array(packageArb, { maxLength: 6 }), fc.array(eventArb, { maxLength: 40 }), (grants, specs) => {
        const packages = grants.map((g, i) =>
          pkg(`p${i}`, g.sandbox, g.agent, {
            priority: g.priority,
            notAfter: g.expiresInMin === null ? null : new Date(T0.getTime() + g.expiresInMin * 60_000),
          }),
        );
        const ctx = context(packages);
        let expectedAgent = 0n;
        const events: MeteringEvent[] = specs.map((spec) => {
          if (spec.kind === 'create') return create(`s${spec.sandbox}`, spec.shape, spec.life);
          if (spec.kind === 'agent') {
            expectedAgent += spec.credits;
            return { ...ref(), kind: 'agent', runId: 'r', credits: spec.credits, usageKind: 'inference' };
          }
          if (spec.kind === 'run') {
            expectedAgent += 1_000n;
            return {
              ...ref(new Date(T0.getTime() + spec.minute * 60_000)),
              kind: 'action',
              action: 'agent.run',
              keyId: 'k',
              admissionId: null,
              sandboxId: null,
              shape: null,
              lifeSeconds: null,
              extendSeconds: null,
            };
          }
          return report(`s${spec.sandbox}`, spec.ms, spec.stop ? 'sandbox.stopped' : 'sandbox.heartbeat');
        });
        // each report's cost at the price of the sandbox's hold (set by its create, or the report's shape)
        const result = postEvents(events, ctx);
        for (const hold of ctx.holds.values()) {
          expect(hold.reservedMs >= 0n && hold.capturedMs >= 0n && outstanding(hold) >= 0n).toBe(true);
        }
        const sum = (kind: 'sandbox' | 'agent', type?: string) =>
          result.entries
            .filter((e) => e.kind === kind && (type === undefined || e.entryType === type))
            .reduce((s, e) => s + e.amount, 0n);
        // every runtime report's cost was captured on its hold and posted (drawn or overage)
        const captured = [...ctx.holds.values()].reduce((s, h) => s + h.capturedMs, 0n);
        expect(-sum('sandbox')).toBe(captured);
        expect(-sum('agent')).toBe(expectedAgent);
        for (const kind of ['sandbox', 'agent'] as const) {
          const granted = grants.reduce((s, g) => s + g[kind], 0n);
          const remaining = packages.reduce((s, p) => s + p.remaining[kind], 0n);
          expect(packages.every((p) => p.remaining[kind] >= 0n)).toBe(true);
          expect(granted + sum(kind, 'debit')).toBe(remaining);
        }
        // each sandbox's roll-ups hold exactly what its hold captured, and count every event naming it
        for (const hold of ctx.holds.values()) {
          const lines = result.sandboxRollups.filter((l) => l.sandboxId === hold.sandboxId);
          expect(lines.reduce((s, l) => s + l.sandboxMs, 0n)).toBe(hold.capturedMs);
        }
        const naming = specs.filter((spec) => spec.kind === 'create' || spec.kind === 'report').length;
        expect(result.sandboxRollups.reduce((s, l) => s + l.count, 0n)).toBe(BigInt(naming));
        // nothing is drawn from a package that had expired at the event's time
        const times = new Map(events.map((e) => [e.id, e.at]));
        for (const entry of result.entries.filter((e) => e.entryType === 'debit')) {
          const p = packages.find((x) => x.id === entry.packageId)!;
          expect(p.notAfter === null || p.notAfter > times.get(entry.eventId)!).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('prices runtime with the hold multiplier, half-up per report', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 9n }), fc.constantFrom(...PRICES.keys()), (ms, shape) => {
        const ctx = context([pkg('p', 10n ** 15n, 0n)]);
        postEvents([create('x', shape, 10)], ctx);
        const result = postEvents([report('x', ms, 'sandbox.heartbeat', shape)], ctx);
        expect(-result.entries.reduce((s, e) => s + e.amount, 0n)).toBe(sandboxCost(ms, PRICES.get(shape)!));
      }),
      { numRuns: 200 },
    );
  });
});
