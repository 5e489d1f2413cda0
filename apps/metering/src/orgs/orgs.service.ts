import { Inject, Injectable, Logger } from '@nestjs/common';
import { Errors, OrgRequest } from '@tally/contracts';
import { OrgStateCache } from '@tally/redis';
import { EntityManager } from 'typeorm';
import { ulid } from 'ulid';
import { METERING_CONFIG } from '../config/metering-config.token';
import { MeteringConfig } from '../config/metering.config';
import { EventRef } from '../ledger/metering-event';
import { OrgChanges, OrgRow, OrgsRepository } from './orgs.repository';

export interface AlertThresholds {
  thresholds: number[];
  source: 'organization' | 'default';
}

export const DEFAULT_PLAN = 'free';

/**
 * Organizations created and changed by the platform, over HTTP or platform.org.v1
 * (docs/ORGANIZATIONS.md). Each change is one transaction on the org's row (its version bumped);
 * once committed, the new state is written to Redis and announced, so auth refuses a suspended
 * org's verifies and quota applies a new plan's limits at once. Suspension changes no balance,
 * hold or package: running sandboxes keep their holds and their usage is still posted.
 */
@Injectable()
export class OrgsService {
  private readonly logger = new Logger(OrgsService.name);

  constructor(
    private readonly repository: OrgsRepository,
    private readonly cache: OrgStateCache,
    @Inject(METERING_CONFIG) private readonly config: MeteringConfig,
  ) {}

  /** The thresholds the alert engine uses for the org: its own, else ALERT_THRESHOLDS. */
  async alertThresholds(orgId: string): Promise<AlertThresholds> {
    const own = await this.repository.alertThresholds(orgId);
    if (own === undefined) throw Errors.orgNotFound();
    return own
      ? { thresholds: own, source: 'organization' }
      : { thresholds: this.config.ALERT_THRESHOLDS, source: 'default' };
  }

  /** Sets the org's thresholds (deduplicated, ascending), or with null returns it to ALERT_THRESHOLDS; from its next posting on. */
  async setAlertThresholds(orgId: string, thresholds: number[] | null): Promise<AlertThresholds> {
    const normalized = thresholds === null ? null : [...new Set(thresholds)].sort((a, b) => a - b);
    if (!(await this.repository.setAlertThresholds(orgId, normalized))) throw Errors.orgNotFound();
    return this.alertThresholds(orgId);
  }

  async get(orgId: string): Promise<OrgRow> {
    const org = await this.repository.find(orgId);
    if (!org) throw Errors.orgNotFound();
    return org;
  }

  create(input: { id?: string; name: string; plan?: string }): Promise<OrgRow> {
    const orgId = input.id ?? `ORG-${ulid()}`;
    return this.apply({ orgId, operation: 'create', name: input.name, plan: input.plan });
  }

  /** A rename and a plan change in one request: one transaction, one version. */
  update(orgId: string, changes: { name?: string; plan?: string }): Promise<OrgRow> {
    return this.changed(orgId, (tx) => this.repository.lock(tx, orgId).then((org) => this.edit(tx, org, changes)));
  }

  /**
   * One operation of the platform: `event` (a platform.org.v1 message) makes it idempotent, a
   * redelivered event changing nothing. Throws a TallyError for a request that can never apply
   * (no such org, an existing id, an unknown plan).
   */
  async apply(request: OrgRequest, event?: EventRef): Promise<OrgRow> {
    return this.changed(request.orgId, async (tx) => {
      if (event && !(await this.repository.markProcessed(tx, event))) return this.repository.lock(tx, request.orgId);
      if (request.operation === 'create') return this.insert(tx, request);
      const org = await this.repository.lock(tx, request.orgId);
      switch (request.operation) {
        case 'rename':
          return this.edit(tx, org, { name: request.name });
        case 'change_plan':
          return this.edit(tx, org, { plan: request.plan });
        case 'suspend':
          return this.edit(tx, org, { status: 'suspended', suspendedReason: request.reason ?? null });
        case 'resume':
          return this.edit(tx, org, { status: 'active', suspendedReason: null });
      }
    });
  }

  /** Runs the change, then stores and announces the org's state (also after a no-op: it heals a lost announcement). */
  private async changed(orgId: string, change: (tx: EntityManager) => Promise<OrgRow | null>): Promise<OrgRow> {
    const org = await this.repository.transaction(change);
    if (!org) throw Errors.orgNotFound();
    await this.cache
      .announce(org.id, { version: org.version, suspended: org.status === 'suspended', plan: org.plan })
      .catch((error: Error) => {
        this.logger.warn({ err: error, orgId }, 'organization changed; Redis not told');
        throw Errors.dependencyUnavailable(
          `The change is saved but Redis did not take it (${error.message}); repeat the request.`,
          1,
        );
      });
    return org;
  }

  private async insert(tx: EntityManager, request: OrgRequest): Promise<OrgRow> {
    const plan = request.plan ?? DEFAULT_PLAN;
    if (!(await this.repository.planExists(tx, plan))) throw Errors.unknownPlan();
    const org = await this.repository.insert(tx, { id: request.orgId, name: request.name!, plan });
    if (!org) throw Errors.orgExists();
    return org;
  }

  /** The changes that differ from the org as it is; none: the org unchanged (same version). */
  private async edit(tx: EntityManager, org: OrgRow | null, changes: OrgChanges): Promise<OrgRow> {
    if (!org) throw Errors.orgNotFound();
    if (changes.plan !== undefined && !(await this.repository.planExists(tx, changes.plan))) throw Errors.unknownPlan();
    const differs = (Object.keys(changes) as (keyof OrgChanges)[]).some(
      (field) => changes[field] !== undefined && changes[field] !== org[field],
    );
    return differs ? this.repository.update(tx, org.id, changes) : org;
  }
}
