import { BalanceKind } from '@tally/contracts';

/** A package's remaining balances as burn-down sees them (integer units). */
export interface PackageBalance {
  id: string;
  priority: number;
  notBefore: Date | null;
  notAfter: Date | null;
  grantedAt: Date;
  remaining: Record<BalanceKind, bigint>;
}

export interface Draw {
  packageId: string;
  amount: bigint;
}

export interface BurnDownResult {
  draws: Draw[];
  /** Work that already ran but found no balance: recorded as overage, never dropped. */
  shortfall: bigint;
}

export const isActive = (pkg: PackageBalance, at: Date): boolean =>
  (pkg.notBefore === null || pkg.notBefore <= at) && (pkg.notAfter === null || at < pkg.notAfter);

/** docs/ARCHITECTURE.md §1: priority descending, then earliest expiry (never-expiring last), then earliest grant. */
export function consumptionOrder(a: PackageBalance, b: PackageBalance): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const aEnd = a.notAfter?.getTime() ?? Number.POSITIVE_INFINITY;
  const bEnd = b.notAfter?.getTime() ?? Number.POSITIVE_INFINITY;
  if (aEnd !== bEnd) return aEnd - bEnd;
  if (a.grantedAt.getTime() !== b.grantedAt.getTime()) return a.grantedAt.getTime() - b.grantedAt.getTime();
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Draws `amount` of `kind` from the packages active at `at`, spilling over in consumption order.
 * Mutates the remaining balances of `packages` so successive events in one batch see each other.
 */
export function burnDown(packages: PackageBalance[], kind: BalanceKind, amount: bigint, at: Date): BurnDownResult {
  if (amount < 0n) throw new RangeError('a debit is never negative');
  const draws: Draw[] = [];
  let left = amount;
  for (const pkg of packages.filter((p) => isActive(p, at)).sort(consumptionOrder)) {
    if (left === 0n) break;
    const take = pkg.remaining[kind] < left ? pkg.remaining[kind] : left;
    if (take === 0n) continue;
    pkg.remaining[kind] -= take;
    left -= take;
    draws.push({ packageId: pkg.id, amount: take });
  }
  return { draws, shortfall: left };
}
