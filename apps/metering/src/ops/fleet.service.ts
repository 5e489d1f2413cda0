import { Inject, Injectable } from '@nestjs/common';
import { assertOrgId, BalanceKind, Errors, msToHours } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalance } from '@tally/database';
import { HEALTH_INDICATORS, HealthIndicator, runHealthChecks } from '@tally/platform';
import { DataSource } from 'typeorm';
import { ConsumerLagMonitor } from './consumer-lag.monitor';
import { DriftMonitor } from './drift.monitor';
import { FLEET_SORTS, FleetKindRow, FleetRepository, FleetSort } from './fleet.repository';
import { OpsRepository } from './ops.repository';
import { display, intParam, signed } from './ops.service';

const HOUR = 3_600_000;
const ATTENTION = ['empty', 'dry-within-24h', 'ok'] as const;

export interface FleetQuery {
  q?: string;
  sort?: string;
  limit?: string;
  offset?: string;
}

/** The ops console's reads over many organizations and the pipeline (docs/OPS-CONSOLE.md). */
@Injectable()
export class FleetService {
  private readonly repo: FleetRepository;
  private readonly ops: OpsRepository;

  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Inject(HEALTH_INDICATORS) private readonly indicators: HealthIndicator[],
    private readonly lag: ConsumerLagMonitor,
    private readonly drift: DriftMonitor,
  ) {
    this.repo = new FleetRepository(db);
    this.ops = new OpsRepository(db);
  }

  async fleet(query: FleetQuery) {
    const q = query.q?.trim() || null;
    if (q !== null && (q.length > 100 || /[\p{Cc}]/u.test(q)))
      throw Errors.invalidRequest('q', 'q must be at most 100 characters, without control characters.');
    const sort = (query.sort ?? 'attention') as FleetSort;
    if (!FLEET_SORTS.includes(sort))
      throw Errors.invalidRequest('sort', `sort must be one of ${FLEET_SORTS.join(', ')}.`);
    const limit = intParam(query.limit, 'limit', 100, 1, 1_000);
    const offset = intParam(query.offset, 'offset', 0, 0, 1_000_000);
    const now = new Date();
    // The burn window of `burnRatePerHour`: from 24 h before the current hour's start to now.
    const span = now.getTime() - (Math.floor(now.getTime() / HOUR) * HOUR - 24 * HOUR);
    const { total, rows } = await this.repo.page(now, span, q, sort, limit, offset);
    return {
      at: now.toISOString(),
      total,
      offset,
      limit,
      sort,
      organizations: rows.map((r) => ({
        orgId: r.orgId,
        name: r.name,
        plan: r.plan,
        status: r.status,
        attention: ATTENTION[r.attention],
        emptyAt: r.emptyAt?.toISOString() ?? null,
        runningSandboxes: r.runningSandboxes,
        balances: { sandbox: kindView('sandbox', r.sandbox), agent: kindView('agent', r.agent) },
      })),
    };
  }

  async pipeline() {
    const [dependencies, outbox] = await Promise.all([runHealthChecks(this.indicators), this.repo.outboxBacklog()]);
    const consumer = this.lag.snapshot();
    return {
      at: new Date().toISOString(),
      consumer: {
        group: consumer.group,
        polledAt: consumer.polledAt,
        totalLag: consumer.partitions.reduce((sum, p) => sum + p.lag, 0),
        partitions: consumer.partitions,
      },
      deadLetters: consumer.deadLetters,
      outbox: { pending: outbox.pending, oldestAt: outbox.oldestAt?.toISOString() ?? null },
      drift: this.drift.lastResult(),
      dependencies,
    };
  }

  async sandboxes(orgId: string) {
    await this.requireOrg(orgId);
    const rows = await this.repo.runningSandboxes(orgId, new Date());
    return rows.map((r) => {
      const outstanding = BigInt(r.reserved_ms) - BigInt(r.captured_ms);
      return {
        sandboxId: r.sandbox_id,
        shape: r.shape,
        pricePerHour: r.price_per_hour,
        reservedHours: msToHours(BigInt(r.reserved_ms)),
        capturedHours: msToHours(BigInt(r.captured_ms)),
        heldHours: msToHours(outstanding > 0n ? outstanding : 0n),
        overrunHours: msToHours(BigInt(r.overrun_ms)),
        placed: r.placed,
        admissionId: r.admission_id,
        startedAt: r.created_at.toISOString(),
        expiresAt: r.expires_at.toISOString(),
      };
    });
  }

  /**
   * The balance as the ledger adds it up, per kind: the package entries (grants, debits, forfeits,
   * reversals) sum to what is left on every package; less what is not active now (not started
   * or expired, not yet forfeited) and what holds reserve, that is what is available. Overage
   * (usage with no balance left) is in the ledger, owed once, and never on a package.
   */
  async explain(orgId: string) {
    await this.requireOrg(orgId);
    const now = new Date();
    const [sums, remainders, held, balance] = await Promise.all([
      this.repo.ledgerSums(orgId),
      this.repo.packageRemainders(orgId, now),
      this.repo.runningSandboxes(orgId, now),
      loadOrgBalance(this.db, orgId, now),
    ]);
    const heldMs = held.reduce((sum, h) => {
      const outstanding = BigInt(h.reserved_ms) - BigInt(h.captured_ms);
      return sum + (outstanding > 0n ? outstanding : 0n);
    }, 0n);
    const kinds = {} as Record<BalanceKind, unknown>;
    for (const kind of ['sandbox', 'agent'] as const) {
      const mine = sums.filter((s) => s.kind === kind);
      const onPackages = mine.filter((s) => s.on_package).reduce((sum, s) => sum + BigInt(s.total), 0n);
      const all = BigInt(kind === 'sandbox' ? remainders.s_all : remainders.a_all);
      const active = BigInt(kind === 'sandbox' ? remainders.s_active : remainders.a_active);
      const holds = kind === 'sandbox' ? heldMs : 0n;
      const owed = kind === 'agent' ? balance.agentDebtMc : 0n;
      kinds[kind] = {
        entries: mine.map((s) => ({
          entryType: s.entry_type,
          onPackage: s.on_package,
          count: s.n,
          amount: s.total,
          amountDisplay: signed(kind, BigInt(s.total)),
        })),
        ledgerTotal: signed(kind, onPackages),
        packagesRemaining: signed(kind, all),
        balanced: onPackages === all,
        inactive: signed(kind, all - active),
        held: display(kind, holds),
        overageOwed: display(kind, owed),
        available: signed(kind, active - holds),
      };
    }
    return { orgId, at: now.toISOString(), balances: kinds };
  }

  private async requireOrg(orgId: string): Promise<void> {
    assertOrgId(orgId);
    if (!(await this.ops.orgExists(orgId))) throw Errors.orgNotFound();
  }
}

/** A kind of a fleet row for display: decimal units, and the alerts firing (the highest threshold only). */
export function kindView(kind: BalanceKind, row: FleetKindRow) {
  // Lower thresholds are marked passed when a higher one fires: show the highest.
  const thresholds = row.firing
    .filter((f) => f !== 'depleted')
    .map(Number)
    .sort((a, b) => b - a);
  const firing: string[] = [];
  if (row.firing.includes('depleted')) firing.push('depleted');
  else if (thresholds.length > 0) firing.push(`${thresholds[0]}%`);
  if (row.forecast) firing.push('forecast');
  return {
    granted: display(kind, BigInt(row.granted)),
    remaining: display(kind, BigInt(row.remaining)),
    held: display(kind, BigInt(row.held)),
    overageOwed: display(kind, BigInt(row.owed)),
    available: signed(kind, BigInt(row.available)),
    burnPerHour: display(kind, BigInt(row.burnPerHour)),
    emptyAt: row.emptyAt?.toISOString() ?? null,
    firing,
  };
}
