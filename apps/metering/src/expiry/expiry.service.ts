import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { LedgerService, METERING_SOURCE } from '../ledger/ledger.service';
import { LedgerLine } from '../ledger/posting';
import { ExpiredPackage, ExpiryRepository } from './expiry.repository';

export interface ExpiryResult {
  orgs: number;
  forfeits: number;
  releasedHolds: number;
}

/**
 * Forfeits the remainders of expired packages (as `forfeit` ledger entries, never a silent
 * delete) once their lateness bound has passed, and releases expired holds. Safe with several
 * instances: organizations are locked with `SKIP LOCKED`, so an org another instance (or the
 * consumer) is working on is left for the next round; the ledger's unique key makes a forfeit
 * impossible to post twice.
 */
@Injectable()
export class ExpiryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ExpiryService.name);
  private timer?: NodeJS.Timeout;
  private current?: Promise<unknown>;

  constructor(
    private readonly expiry: ExpiryRepository,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
    private readonly ledger: LedgerService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.EXPIRY_INTERVAL_MS === 0) return;
    const tick = () => {
      this.current = this.runOnce(new Date())
        .catch((error) => this.logger.warn({ err: error }, 'expiry round failed; retrying next round'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.config.EXPIRY_INTERVAL_MS);
        });
    };
    this.timer = setTimeout(tick, this.config.EXPIRY_INTERVAL_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /**
   * One round at `now`: forfeits packages whose `notAfter` is at least EXPIRY_LATENESS_SECONDS
   * behind `now` (a report dated before `notAfter` may still arrive until then, and draws from the
   * package: docs/TIME.md), and releases holds past their end.
   */
  async runOnce(now: Date, limit = 500): Promise<ExpiryResult> {
    const forfeitBefore = new Date(now.getTime() - this.config.EXPIRY_LATENESS_SECONDS * 1000);
    const orgIds = await this.expiry.due(forfeitBefore, now, limit);
    if (orgIds.length === 0) return { orgs: 0, forfeits: 0, releasedHolds: 0 };
    const result = await this.ledger.postUnderLock('expiry', orgIds, [], async (repo, { known }) => {
      const locked = [...known];
      if (locked.length === 0) {
        return {
          value: { orgs: [] as string[], forfeits: 0, releasedHolds: 0 },
          change: null,
          refresh: [],
          outbox: false,
        };
      }
      const writes = this.expiry.in(repo.tx);
      const lines = forfeitLines(await writes.forfeitPackages(locked, forfeitBefore));
      await repo.append(lines, this.ledger.ledgerTopic, METERING_SOURCE);
      const releasedHolds = await writes.expireHolds(locked, now);
      const value = { orgs: locked, forfeits: lines.length, releasedHolds };
      return { value, change: { orgIds: locked, events: [] }, refresh: locked, outbox: lines.length > 0 };
    });
    if (result.orgs.length) this.logger.log({ ...result, orgs: result.orgs.length }, 'expiry round');
    return { ...result, orgs: result.orgs.length };
  }
}

/** A `forfeit` ledger entry per kind a package had left: expiry never deletes a balance silently. */
function forfeitLines(expired: ExpiredPackage[]): LedgerLine[] {
  const lines: LedgerLine[] = [];
  for (const pkg of expired) {
    for (const [kind, remaining] of [
      ['sandbox', pkg.sandboxMs],
      ['agent', pkg.agentMc],
    ] as const) {
      if (remaining === 0n) continue;
      lines.push({
        orgId: pkg.orgId,
        packageId: pkg.id,
        kind,
        entryType: 'forfeit',
        amount: -remaining,
        eventSource: `${METERING_SOURCE}/expiry`,
        eventId: pkg.id,
        action: 'package.expired',
        keyId: null,
      });
    }
  }
  return lines;
}
