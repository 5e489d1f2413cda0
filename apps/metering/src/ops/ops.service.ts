import { Inject, Injectable } from '@nestjs/common';
import { assertOrgId, BalanceKind, Errors, milliToCredits, msToHours } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalance } from '@tally/database';
import { DataSource } from 'typeorm';
import { burnRatePerHour, depletionTime } from '../alerts/alert-policy';
import { ConsumerLagMonitor } from './consumer-lag.monitor';
import { Granularity, OpsRepository, USAGE_GROUPS, UsageGroup, UsagePointRow } from './ops.repository';

const HOUR = 3_600_000;
const MAX_RANGE_MS = 400 * 24 * HOUR;
export const display = (kind: BalanceKind, units: bigint) =>
  kind === 'sandbox' ? msToHours(units) : milliToCredits(units);
export const signed = (kind: BalanceKind, units: bigint) =>
  units < 0n ? `-${display(kind, -units)}` : display(kind, units);

export interface UsageQuery {
  from?: string;
  to?: string;
  granularity?: string;
  groupBy?: string;
}

export interface UsageView {
  orgId: string;
  from: string;
  to: string;
  granularity: Granularity;
  groupBy: UsageGroup | null;
  series: UsagePoint[];
  totals: Omit<UsagePoint, 'start' | 'group'>;
}

export type UsagePoint = UsagePointRow;

/** Ops reads: balances with burn rate and forecast, usage series, the explained ledger, top orgs. */
@Injectable()
export class OpsService {
  private readonly repo: OpsRepository;

  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    private readonly lag: ConsumerLagMonitor,
  ) {
    this.repo = new OpsRepository(db);
  }

  async balances(orgId: string) {
    await this.requireOrg(orgId);
    const now = new Date();
    const [packages, buckets, held, asOf] = await Promise.all([
      this.repo.packages(orgId, now),
      this.repo.recentBuckets(orgId, now, 24),
      loadOrgBalance(this.db, orgId, now),
      this.repo.asOf(orgId),
    ]);
    return {
      orgId,
      asOf,
      pendingEvents: this.lag.pendingFor(orgId),
      at: now.toISOString(),
      balances: {
        sandbox: kindBalance('sandbox', packages, buckets, held, now),
        agent: kindBalance('agent', packages, buckets, held, now),
      },
      packages: packages.map(packageView),
    };
  }

  async usage(orgId: string, query: UsageQuery): Promise<UsageView> {
    await this.requireOrg(orgId);
    const granularity = (query.granularity ?? 'day') as Granularity;
    if (granularity !== 'hour' && granularity !== 'day')
      throw Errors.invalidRequest('granularity', 'granularity must be hour or day.');
    const groupBy = (query.groupBy ?? null) as UsageGroup | null;
    if (groupBy !== null && !USAGE_GROUPS.includes(groupBy))
      throw Errors.invalidRequest('groupBy', `groupBy must be one of ${USAGE_GROUPS.join(', ')}.`);
    const { from, to } = window(query.from, query.to, 7 * 24 * HOUR);
    const series = await this.repo.usage(orgId, from, to, granularity, groupBy);
    let events = 0n;
    let sandboxMs = 0n;
    let agentMc = 0n;
    for (const p of series) {
      events += BigInt(p.events);
      sandboxMs += BigInt(p.sandboxMs);
      agentMc += BigInt(p.agentMilliCredits);
    }
    return {
      orgId,
      from: from.toISOString(),
      to: to.toISOString(),
      granularity,
      groupBy,
      series,
      totals: {
        events: events.toString(),
        sandboxMs: sandboxMs.toString(),
        sandboxHours: msToHours(sandboxMs),
        agentMilliCredits: agentMc.toString(),
        agentCredits: milliToCredits(agentMc),
      },
    };
  }

  async ledger(orgId: string, query: { cursor?: string; limit?: string; kind?: string }) {
    await this.requireOrg(orgId);
    if (query.cursor !== undefined && !/^\d{1,19}$/.test(query.cursor))
      throw Errors.invalidRequest('cursor', 'cursor must be a ledger position from nextCursor.');
    const limit = intParam(query.limit, 'limit', 100, 1, 1_000);
    const kind = kindParam(query.kind, false);
    const rows = await this.repo.ledger(orgId, query.cursor ?? null, limit + 1, kind);
    const page = rows.slice(0, limit);
    return {
      orgId,
      entries: page.map((r) => ({
        seq: r.seq,
        kind: r.kind,
        entryType: r.entryType,
        amount: r.amount.toString(),
        amountDisplay: signed(r.kind, r.amount),
        packageId: r.packageId,
        createdAt: r.createdAt.toISOString(),
        event: {
          source: r.eventSource,
          id: r.eventId,
          action: r.action,
          keyId: r.keyId,
          topic: r.topic,
          partition: r.partition,
          offset: r.offset,
        },
      })),
      nextCursor: rows.length > limit ? page[page.length - 1].seq : null,
    };
  }

  async top(query: { kind?: string; from?: string; to?: string; limit?: string }) {
    const kind = kindParam(query.kind, true)!;
    const limit = intParam(query.limit, 'limit', 10, 1, 1_000);
    const { from, to } = window(query.from, query.to, 30 * 24 * HOUR);
    const rows = await this.repo.top(kind, from, to, limit);
    return {
      kind,
      from: from.toISOString(),
      to: to.toISOString(),
      organizations: rows.map((r) => ({
        orgId: r.orgId,
        consumed: r.consumed.toString(),
        consumedDisplay: display(kind, r.consumed),
      })),
    };
  }

  async stats(orgId: string) {
    await this.requireOrg(orgId);
    return this.repo.stats(orgId);
  }

  async alerts(orgId: string, limit?: string) {
    await this.requireOrg(orgId);
    const rows = await this.repo.alerts(orgId, intParam(limit, 'limit', 20, 1, 200));
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      type: r.type,
      threshold: r.threshold,
      data: (r.payload as { data?: unknown }).data ?? null,
      createdAt: r.created_at.toISOString(),
    }));
  }

  private async requireOrg(orgId: string): Promise<void> {
    assertOrgId(orgId);
    if (!(await this.repo.orgExists(orgId))) throw Errors.orgNotFound();
  }
}

/** `[from, to)` on whole hours (roll-ups are hourly): `from` floored, `to` rounded up. */
type ActivePackage = Awaited<ReturnType<OpsRepository['packages']>>[number];
type HourBucket = Awaited<ReturnType<OpsRepository['recentBuckets']>>[number];

/** One kind's balance: granted, consumed, held, owed, available, burn rates and forecast. */
function kindBalance(
  kind: BalanceKind,
  packages: ActivePackage[],
  buckets: HourBucket[],
  held: { heldMs: bigint; agentDebtMc: bigint },
  now: Date,
) {
  const granted = packages.reduce((sum, p) => sum + p.granted[kind], 0n);
  const remaining = packages.reduce((sum, p) => sum + p.remaining[kind], 0n);
  const heldUnits = kind === 'sandbox' ? held.heldMs : 0n;
  // Agent overage not reversed is owed (invoiced once): shown, never taken from the credits.
  const owed = kind === 'agent' ? held.agentDebtMc : 0n;
  const series = buckets.map((b) => ({ hour: b.hour, amount: b[kind] }));
  const lastHour = burnRatePerHour(series, now, 1);
  const lastDay = burnRatePerHour(series, now, 24);
  const available = remaining - heldUnits;
  return {
    unit: kind === 'sandbox' ? 'hours' : 'credits',
    granted: display(kind, granted),
    consumed: display(kind, granted - remaining),
    held: display(kind, heldUnits),
    overageOwed: display(kind, owed),
    available: signed(kind, available),
    burnRatePerHour: { lastHour: display(kind, lastHour), lastDay: display(kind, lastDay) },
    forecastDepletionAt: depletionTime(available, lastHour, now)?.toISOString() ?? null,
  };
}

function packageView(p: ActivePackage) {
  return {
    id: p.id,
    priority: p.priority,
    sandboxHoursRemaining: msToHours(p.remaining.sandbox),
    agentCreditsRemaining: milliToCredits(p.remaining.agent),
    notBefore: p.notBefore?.toISOString() ?? null,
    expiresAt: p.notAfter?.toISOString() ?? null,
  };
}

function window(fromRaw: string | undefined, toRaw: string | undefined, defaultSpan: number) {
  const parse = (raw: string | undefined, field: string) => {
    if (raw === undefined) return null;
    const date = new Date(raw);
    if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(date.getTime()))
      throw Errors.invalidRequest(field, `${field} must be an ISO 8601 time.`);
    return date.getTime();
  };
  const toMs = parse(toRaw, 'to') ?? Date.now();
  const fromMs = parse(fromRaw, 'from') ?? toMs - defaultSpan;
  const from = Math.floor(fromMs / HOUR) * HOUR;
  const to = Math.ceil(toMs / HOUR) * HOUR;
  if (to <= from) throw Errors.invalidRequest('to', 'to must be later than from.');
  if (to - from > MAX_RANGE_MS) throw Errors.invalidRequest('from', 'The window may span at most 400 days.');
  return { from: new Date(from), to: new Date(to) };
}

export function intParam(raw: string | undefined, field: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max)
    throw Errors.invalidRequest(field, `${field} must be an integer in ${min}..${max}.`);
  return value;
}

function kindParam(raw: string | undefined, required: boolean): BalanceKind | null {
  if (raw === undefined && !required) return null;
  if (raw !== 'sandbox' && raw !== 'agent') throw Errors.invalidRequest('kind', 'kind must be sandbox or agent.');
  return raw;
}

/** CSV of a usage series (RFC 4180 quoting for the group column). */
export function usageCsv(view: UsageView): string {
  const quote = (value: string | null) => (value === null ? '' : `"${value.replaceAll('"', '""')}"`);
  const lines = ['start,group,events,sandbox_ms,sandbox_hours,agent_milli_credits,agent_credits'];
  for (const p of view.series)
    lines.push(
      [p.start, quote(p.group), p.events, p.sandboxMs, p.sandboxHours, p.agentMilliCredits, p.agentCredits].join(','),
    );
  return `${lines.join('\r\n')}\r\n`;
}
