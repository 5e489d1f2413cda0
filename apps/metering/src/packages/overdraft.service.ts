import { Inject, Injectable } from '@nestjs/common';
import { assertOrgId, creditsToMilli, Errors, milliToCredits } from '@tally/contracts';
import { DATA_SOURCE } from '@tally/database';
import { DataSource } from 'typeorm';
import { LedgerService } from '../ledger/ledger.service';
import { OVERDRAFT_CEILING_CREDITS, OverdraftView } from './dto/overdraft.dto';
import { OverdraftRepository } from './overdraft.repository';

const view = (orgId: string, mc: bigint): OverdraftView => ({
  orgId,
  agentCredits: milliToCredits(mc),
  agentMilliCredits: mc.toString(),
});

/**
 * An organization's agent overdraft limit (issue 10 item 6): how far below zero its agent credits
 * may go when an agent.run is admitted, less the overage it already ran up. Stored on the
 * organization under the org lock with a new ledger-sequence version, so the Redis balance that
 * admission reads takes it (refreshed durably, like a grant: retried until Redis has it).
 */
@Injectable()
export class OverdraftService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
  ) {}

  async set(orgId: string, agentCredits: string): Promise<OverdraftView> {
    assertOrgId(orgId);
    const mc = parseOverdraft(agentCredits);
    await this.ledger.postUnderLock('overdraft', [orgId], [], async (repo, { known }) => {
      if (!known.has(orgId)) throw Errors.orgNotFound();
      await new OverdraftRepository(repo.tx).set(orgId, mc);
      return { value: undefined, change: null, refresh: [orgId], outbox: false };
    });
    return view(orgId, mc);
  }

  async get(orgId: string): Promise<OverdraftView> {
    assertOrgId(orgId);
    const mc = await new OverdraftRepository(this.dataSource).get(orgId);
    if (mc === null) throw Errors.orgNotFound();
    return view(orgId, mc);
  }
}

function parseOverdraft(agentCredits: string): bigint {
  let mc: bigint;
  try {
    mc = creditsToMilli(agentCredits);
  } catch (error) {
    throw Errors.invalidRequest('agentCredits', (error as Error).message);
  }
  if (mc > creditsToMilli(`${OVERDRAFT_CEILING_CREDITS}`))
    throw Errors.invalidRequest('agentCredits', `agentCredits must be at most ${OVERDRAFT_CEILING_CREDITS}.`);
  return mc;
}
