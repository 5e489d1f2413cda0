import { Inject, Injectable, Logger } from '@nestjs/common';
import { BalanceKind } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalances } from '@tally/database';
import { BalanceCache } from '@tally/redis';
import { DataSource } from 'typeorm';
import { burnDown, PackageBalance } from './burn-down';
import { LedgerRepository, NewLedgerEntry, ProcessedEventRef } from './ledger.repository';

export interface Debit {
  orgId: string;
  kind: BalanceKind;
  /** Integer units: sandbox-ms or milli-credits. */
  amount: bigint;
  at: Date;
  action: string | null;
  keyId: string | null;
}

export interface MeteredEvent extends ProcessedEventRef {
  /** Zero or more debits this event causes. */
  debits: Debit[];
}

/**
 * Posts a batch of events to the ledger exactly once: one PostgreSQL transaction dedupes them by
 * (source, id), burns down packages and appends ledger entries; only then is Redis refreshed from
 * the committed truth. A crash anywhere re-delivers the batch, and dedupe makes that harmless.
 */
@Injectable()
export class LedgerService {
  private readonly logger = new Logger(LedgerService.name);

  constructor(
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly balances: BalanceCache,
  ) {}

  async post(events: MeteredEvent[]): Promise<{ applied: number; duplicates: number }> {
    if (events.length === 0) return { applied: 0, duplicates: 0 };
    const applied = await this.dataSource.transaction(async (manager) => {
      const ledger = new LedgerRepository(manager);
      const firstSeen = await ledger.markProcessed(events);
      const fresh = events.filter((event) => firstSeen.has(`${event.source}|${event.id}`));
      const orgIds = [...new Set(fresh.flatMap((event) => event.debits.map((debit) => debit.orgId)))];
      if (orgIds.length === 0) return fresh.length;
      const packagesByOrg = await ledger.lockPackages(orgIds);
      const entries = fresh.flatMap((event) => LedgerService.entriesFor(packagesByOrg, event));
      await ledger.saveRemainders([...packagesByOrg.values()].flat());
      await ledger.append(entries);
      return fresh.length;
    });
    // Duplicates included: a crash after the commit but before this refresh left Redis behind.
    await this.refreshCache([...new Set(events.flatMap((event) => event.debits.map((debit) => debit.orgId)))]);
    return { applied, duplicates: events.length - applied };
  }

  /** Writes each touched org's committed balance to Redis; a lost write is repaired by the next one or a miss. */
  private async refreshCache(orgIds: string[]): Promise<void> {
    if (orgIds.length === 0) return;
    const balances = await loadOrgBalances(this.dataSource, orgIds, new Date());
    await Promise.all(
      [...balances].map(([orgId, balance]) =>
        this.balances.apply(orgId, balance).catch((error) => {
          this.logger.warn(
            { err: error, orgId },
            'redis balance refresh failed; it reloads from PostgreSQL on next read',
          );
        }),
      ),
    );
  }

  static entriesFor(packagesByOrg: Map<string, PackageBalance[]>, event: MeteredEvent): NewLedgerEntry[] {
    const entries: NewLedgerEntry[] = [];
    for (const debit of event.debits) {
      const packages = packagesByOrg.get(debit.orgId) ?? [];
      const { draws, shortfall } = burnDown(packages, debit.kind, debit.amount, debit.at);
      const base = {
        orgId: debit.orgId,
        kind: debit.kind,
        eventSource: event.source,
        eventId: event.id,
        action: debit.action,
        keyId: debit.keyId,
      };
      for (const draw of draws)
        entries.push({ ...base, packageId: draw.packageId, entryType: 'debit', amount: draw.amount });
      if (shortfall > 0n) entries.push({ ...base, packageId: null, entryType: 'overage', amount: shortfall });
    }
    return entries;
  }
}
