import { Inject, Injectable } from '@nestjs/common';
import { assertOrgId, milliToCredits, msToHours } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalance } from '@tally/database';
import { AdmissionCache, BalanceCache, CachedBalance, validAt } from '@tally/redis';
import { DataSource } from 'typeorm';

export interface BalanceView {
  orgId: string;
  sandboxHours: string;
  agentCredits: string;
  sandboxMs: string;
  agentMilliCredits: string;
  /** Sandbox-ms held: durable holds (PostgreSQL) and quota's provisional holds. */
  heldMs: string;
  provisionalMs: string;
  /** What a new sandbox.create can reserve: sandboxMs - heldMs - provisionalMs. */
  availableSandboxMs: string;
  availableSandboxHours: string;
  runningSandboxes: number;
  /** Milli-credits held by admitted agent runs not yet debited by metering. */
  provisionalAgentMc: string;
  /** Agent overage not reversed, and the org's overdraft limit (milli-credits). */
  agentDebtMc: string;
  agentOverdraftMc: string;
  /** What agent runs can still reserve: agentMilliCredits + max(agentOverdraftMc - agentDebtMc, 0) - provisionalAgentMc. */
  availableAgentMc: string;
  /** Ledger position the answer reflects. */
  version: string;
  source: 'cache' | 'database';
}

/**
 * Balances as admission sees them: Redis first; on a miss (nothing cached, or a snapshot past its
 * validity), PostgreSQL through the shared loader.
 */
@Injectable()
export class BalancesService {
  constructor(
    private readonly cache: BalanceCache,
    private readonly admissions: AdmissionCache,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  async read(orgId: string): Promise<BalanceView> {
    assertOrgId(orgId);
    const [cached, provisional, agent] = await Promise.all([
      this.cache.get(orgId),
      this.admissions.provisional(orgId),
      this.admissions.provisionalAgent(orgId),
    ]);
    const held = { ms: provisional.totalMs, mc: agent.totalMc };
    const at = new Date();
    if (cached && validAt(cached, at)) return view(orgId, cached, held, 'cache');
    const loaded = await loadOrgBalance(this.dataSource, orgId, at);
    await this.cache.apply(orgId, loaded, [], at);
    return view(orgId, loaded, held, 'database');
  }
}

function view(
  orgId: string,
  balance: CachedBalance,
  provisional: { ms: bigint; mc: bigint },
  source: BalanceView['source'],
): BalanceView {
  const provisionalMs = provisional.ms;
  const available = balance.sandboxMs - balance.heldMs - provisionalMs;
  const debt = balance.agentDebtMc ?? 0n;
  const overdraft = balance.agentOverdraftMc ?? 0n;
  return {
    orgId,
    sandboxHours: msToHours(balance.sandboxMs),
    agentCredits: milliToCredits(balance.agentMc),
    sandboxMs: balance.sandboxMs.toString(),
    agentMilliCredits: balance.agentMc.toString(),
    heldMs: balance.heldMs.toString(),
    provisionalMs: provisionalMs.toString(),
    availableSandboxMs: available.toString(),
    availableSandboxHours: msToHours(available),
    runningSandboxes: balance.runningSandboxes,
    provisionalAgentMc: provisional.mc.toString(),
    agentDebtMc: debt.toString(),
    agentOverdraftMc: overdraft.toString(),
    availableAgentMc: (balance.agentMc + (overdraft > debt ? overdraft - debt : 0n) - provisional.mc).toString(),
    version: balance.version.toString(),
    source,
  };
}
