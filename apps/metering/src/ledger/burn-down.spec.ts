import fc from 'fast-check';
import { burnDown, PackageBalance } from './burn-down';

const at = new Date('2026-06-01T00:00:00Z');
const pkg = (id: string, agent: bigint, extra: Partial<PackageBalance> = {}): PackageBalance => ({
  id,
  priority: 0,
  notBefore: null,
  notAfter: null,
  grantedAt: new Date('2026-01-01T00:00:00Z'),
  remaining: { sandbox: 0n, agent },
  ...extra,
});

describe('burnDown', () => {
  it('draws from the highest priority first and spills over', () => {
    const low = pkg('low', 500n);
    const high = pkg('high', 300n, { priority: 5 });
    const result = burnDown([low, high], 'agent', 400n, at);
    expect(result).toEqual({
      draws: [
        { packageId: 'high', amount: 300n },
        { packageId: 'low', amount: 100n },
      ],
      shortfall: 0n,
    });
    expect(high.remaining.agent).toBe(0n);
    expect(low.remaining.agent).toBe(400n);
  });

  it('prefers the earliest expiry, then the earliest grant, at equal priority', () => {
    const never = pkg('never', 100n);
    const soon = pkg('soon', 100n, { notAfter: new Date('2026-07-01T00:00:00Z') });
    const later = pkg('later', 100n, { notAfter: new Date('2026-08-01T00:00:00Z') });
    const older = pkg('older', 100n, { grantedAt: new Date('2025-01-01T00:00:00Z') });
    expect(burnDown([never, later, soon, older], 'agent', 400n, at).draws.map((d) => d.packageId)).toEqual([
      'soon',
      'later',
      'older',
      'never',
    ]);
  });

  it('skips packages not yet active or already expired', () => {
    const future = pkg('future', 100n, { notBefore: new Date('2026-07-01T00:00:00Z') });
    const expired = pkg('expired', 100n, { notAfter: at });
    expect(burnDown([future, expired], 'agent', 50n, at)).toEqual({ draws: [], shortfall: 50n });
  });

  it('records what it could not cover as a shortfall', () => {
    expect(burnDown([pkg('a', 30n)], 'agent', 100n, at)).toEqual({
      draws: [{ packageId: 'a', amount: 30n }],
      shortfall: 70n,
    });
  });

  it('conserves units: drawn + shortfall = debit, and remainders never go negative', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ agent: fc.bigInt({ min: 0n, max: 10n ** 12n }), priority: fc.integer({ min: -3, max: 3 }) }),
          {
            maxLength: 8,
          },
        ),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { maxLength: 20 }),
        (grants, debits) => {
          const packages = grants.map((g, i) => pkg(`p${i}`, g.agent, { priority: g.priority }));
          const granted = grants.reduce((sum, g) => sum + g.agent, 0n);
          let drawn = 0n;
          for (const debit of debits) {
            const { draws, shortfall } = burnDown(packages, 'agent', debit, at);
            const sum = draws.reduce((s, d) => s + d.amount, 0n);
            expect(sum + shortfall).toBe(debit);
            drawn += sum;
          }
          const remaining = packages.reduce((sum, p) => sum + p.remaining.agent, 0n);
          expect(packages.every((p) => p.remaining.agent >= 0n)).toBe(true);
          expect(granted - drawn).toBe(remaining);
        },
      ),
    );
  });
});
