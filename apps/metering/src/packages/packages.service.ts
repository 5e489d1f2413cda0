import { Inject, Injectable } from '@nestjs/common';
import { assertOrgId, creditsToMilli, Errors, hoursToMs, milliToCredits, msToHours } from '@tally/contracts';
import { DATA_SOURCE } from '@tally/database';
import { DataSource } from 'typeorm';
import { LedgerService, METERING_SOURCE } from '../ledger/ledger.service';
import { GRANT_CEILINGS, GrantPackageDto, PackageView } from './dto/grant-package.dto';

interface PackageRow {
  id: string;
  org_id: string;
  sandbox_ms_granted: string;
  sandbox_ms_remaining: string;
  agent_mc_granted: string;
  agent_mc_remaining: string;
  priority: number;
  not_before: Date | null;
  not_after: Date | null;
  granted_at: Date;
  source: string;
  external_id: string;
}

const COLUMNS = `id, org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining, priority,
                 not_before, not_after, granted_at, source, external_id`;

/** Packages (credit grants): granted idempotently by externalId, with their grant ledger entries. */
@Injectable()
export class PackagesService {
  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
  ) {}

  async grant(orgId: string, dto: GrantPackageDto): Promise<PackageView> {
    assertOrgId(orgId);
    const sandboxMs = parseAmount(() => hoursToMs(dto.sandboxHours), 'sandboxHours');
    const agentMc = parseAmount(() => creditsToMilli(dto.agentCredits), 'agentCredits');
    const notBefore = dto.notBefore ? new Date(dto.notBefore) : null;
    const notAfter = dto.notAfter ? new Date(dto.notAfter) : null;
    if (notBefore && notAfter && notAfter <= notBefore) {
      throw Errors.invalidRequest('notAfter', 'notAfter must be later than notBefore.');
    }
    const { row, created } = await this.ledger.postUnderLock('grant', [orgId], [], async (repo, { known }) => {
      const manager = repo.tx;
      // The org lock orders this grant's ledger position with the consumer's batches for the org.
      if (!known.has(orgId)) throw Errors.orgNotFound();
      const inserted: PackageRow[] = await manager.query(
        `INSERT INTO packages (org_id, sandbox_ms_granted, sandbox_ms_remaining, agent_mc_granted, agent_mc_remaining,
                               priority, not_before, not_after, source, external_id)
         VALUES ($1, $2, $2, $3, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (org_id, external_id) DO NOTHING RETURNING ${COLUMNS}`,
        [
          orgId,
          sandboxMs.toString(),
          agentMc.toString(),
          dto.priority ?? 0,
          notBefore,
          notAfter,
          dto.source,
          dto.externalId,
        ],
      );
      if (inserted.length === 0) {
        const [existing]: PackageRow[] = await manager.query(
          `SELECT ${COLUMNS} FROM packages WHERE org_id = $1 AND external_id = $2`,
          [orgId, dto.externalId],
        );
        return { value: { row: existing, created: false }, change: null, refresh: [], outbox: false };
      }
      const pkg = inserted[0];
      await repo.append(
        (
          [
            ['sandbox', sandboxMs],
            ['agent', agentMc],
          ] as const
        ).map(([kind, amount]) => ({
          orgId,
          packageId: pkg.id,
          kind,
          entryType: 'grant' as const,
          amount,
          eventSource: `grant:${dto.source}`,
          eventId: dto.externalId,
          action: null,
          keyId: null,
        })),
        this.ledger.ledgerTopic,
        METERING_SOURCE,
      );
      const value = { row: pkg, created: true };
      return { value, change: { orgIds: [orgId], events: [] }, refresh: [orgId], outbox: true };
    });
    return { ...view(row, new Date()), created };
  }

  async list(orgId: string): Promise<PackageView[]> {
    assertOrgId(orgId);
    const [org]: unknown[] = await this.dataSource.query('SELECT 1 FROM organizations WHERE id = $1', [orgId]);
    if (!org) throw Errors.orgNotFound();
    const rows: PackageRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM packages WHERE org_id = $1
        ORDER BY priority DESC, not_after ASC NULLS LAST, granted_at ASC, id ASC`,
      [orgId],
    );
    const now = new Date();
    return rows.map((row) => view(row, now));
  }
}

const CEILING_UNITS = {
  sandboxHours: hoursToMs(`${GRANT_CEILINGS.sandboxHours}`),
  agentCredits: creditsToMilli(`${GRANT_CEILINGS.agentCredits}`),
};

/** An amount in integer units, at most the ceiling of its field (`GRANT_CEILINGS`). */
function parseAmount(parse: () => bigint, field: keyof typeof GRANT_CEILINGS): bigint {
  let amount: bigint;
  try {
    amount = parse();
  } catch (error) {
    throw Errors.invalidRequest(field, (error as Error).message);
  }
  if (amount > CEILING_UNITS[field]) {
    throw Errors.invalidRequest(field, `${field} must be at most ${GRANT_CEILINGS[field]}.`);
  }
  return amount;
}

function view(row: PackageRow, now: Date): PackageView {
  const active = (!row.not_before || row.not_before <= now) && (!row.not_after || now < row.not_after);
  return {
    id: row.id,
    orgId: row.org_id,
    sandboxHours: msToHours(BigInt(row.sandbox_ms_granted)),
    sandboxHoursRemaining: msToHours(BigInt(row.sandbox_ms_remaining)),
    sandboxMsRemaining: row.sandbox_ms_remaining,
    agentCredits: milliToCredits(BigInt(row.agent_mc_granted)),
    agentCreditsRemaining: milliToCredits(BigInt(row.agent_mc_remaining)),
    agentMilliCreditsRemaining: row.agent_mc_remaining,
    priority: row.priority,
    notBefore: row.not_before?.toISOString() ?? null,
    notAfter: row.not_after?.toISOString() ?? null,
    grantedAt: row.granted_at.toISOString(),
    source: row.source,
    externalId: row.external_id,
    active,
  };
}
