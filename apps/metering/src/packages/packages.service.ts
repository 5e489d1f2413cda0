import { Injectable } from '@nestjs/common';
import { assertOrgId, creditsToMilli, Errors, hoursToMs, milliToCredits, msToHours } from '@tally/contracts';
import { LedgerService, METERING_SOURCE } from '../ledger/ledger.service';
import { LedgerLine } from '../ledger/posting';
import { GRANT_CEILINGS, GrantPackageDto, PackageView } from './dto/grant-package.dto';
import { NewPackage, PackageRow, PackagesRepository } from './packages.repository';

/** Packages (credit grants): granted idempotently by externalId, with their grant ledger entries. */
@Injectable()
export class PackagesService {
  constructor(
    private readonly packages: PackagesRepository,
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
    const pkg: NewPackage = {
      orgId,
      sandboxMs,
      agentMc,
      priority: dto.priority ?? 0,
      notBefore,
      notAfter,
      source: dto.source,
      externalId: dto.externalId,
    };
    const { row, created } = await this.ledger.postUnderLock('grant', [orgId], [], async (repo, { known }) => {
      // The org lock orders this grant's ledger position with the consumer's batches for the org.
      if (!known.has(orgId)) throw Errors.orgNotFound();
      const writes = this.packages.in(repo.tx);
      const inserted = await writes.insert(pkg);
      if (!inserted) {
        const existing = await writes.byExternalId(orgId, dto.externalId);
        return { value: { row: existing, created: false }, change: null, refresh: [], outbox: false };
      }
      await repo.append(grantLines(inserted.id, pkg), this.ledger.ledgerTopic, METERING_SOURCE);
      const value = { row: inserted, created: true };
      return { value, change: { orgIds: [orgId], events: [] }, refresh: [orgId], outbox: true };
    });
    return { ...view(row, new Date()), created };
  }

  async list(orgId: string): Promise<PackageView[]> {
    assertOrgId(orgId);
    if (!(await this.packages.orgExists(orgId))) throw Errors.orgNotFound();
    const rows = await this.packages.list(orgId);
    const now = new Date();
    return rows.map((row) => view(row, now));
  }
}

/** A grant's ledger entries: one per kind, naming the granting system's id. */
function grantLines(packageId: string, pkg: NewPackage): LedgerLine[] {
  return (
    [
      ['sandbox', pkg.sandboxMs],
      ['agent', pkg.agentMc],
    ] as const
  ).map(([kind, amount]) => ({
    orgId: pkg.orgId,
    packageId,
    kind,
    entryType: 'grant' as const,
    amount,
    eventSource: `grant:${pkg.source}`,
    eventId: pkg.externalId,
    action: null,
    keyId: null,
  }));
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
