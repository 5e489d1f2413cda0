import { Inject, Injectable, Logger } from '@nestjs/common';
import { Action, assertAction, Errors, milliToCredits, msToHours, TallyError } from '@tally/contracts';
import { DATA_SOURCE, loadOrgBalances } from '@tally/database';
import { METRICS_REGISTRY } from '@tally/platform';
import { AdmissionCache, AdmissionOutcome, BalanceCache } from '@tally/redis';
import { Counter, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { CatalogService } from '../catalog/catalog.service';
import { QUOTA_CONFIG, QuotaConfig } from '../config/quota.config';
import {
  admissionKind,
  agentMinimum,
  failsOpen,
  fingerprint,
  reservedSeconds,
  reserveFor,
  retryAfterSeconds,
} from './admission-policy';
import { AdmissionGrantedDto, AdmissionReleasedDto, AdmissionRequest, isAdmissionId } from './dto/admission.dto';

type Dependency = 'Redis' | 'PostgreSQL';

/** A dependency failed or was too slow: the decision fails open or closed per action. */
class DependencyFailure extends Error {
  constructor(
    readonly dependency: Dependency,
    readonly reason: string,
  ) {
    super(`${dependency} ${reason}`);
  }
}

/** Runs `work` tagging any non-domain failure with the dependency it came from. */
async function on<T>(dependency: Dependency, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TallyError || error instanceof DependencyFailure) throw error;
    throw new DependencyFailure(dependency, describeFailure(error as Error));
  }
}

/** ioredis' and pg's wording, in the sentence a caller reads. */
function describeFailure(error: Error): string {
  const message = error?.message ?? String(error);
  if (/Stream isn't writeable|Connection is closed|ECONNREFUSED|connect ETIMEDOUT/.test(message)) {
    return `is unreachable (${message})`;
  }
  if (/timed out/i.test(message)) return `did not answer in time (${message})`;
  return `failed (${message})`;
}

/**
 * Admission decisions. Everything that needs a consistent view (holds, balance, concurrency, rate)
 * is decided in ONE Lua call; TypeScript only prepares integer inputs from the in-memory catalog
 * and maps the outcome to the error contract. Every decision is bounded by ADMISSION_TIMEOUT_MS.
 */
@Injectable()
export class AdmissionsService {
  private readonly logger = new Logger(AdmissionsService.name);
  private readonly agentMinimumMc: bigint;
  private readonly coldLoads = new Map<string, Promise<void>>();
  /** Decisions by action and outcome (ADMIT, REPLAY, a denial code, FAILED_OPEN, DEPENDENCY_UNAVAILABLE). */
  private readonly decisions: Counter<'action' | 'outcome'>;
  private readonly coldLoadCount: Counter;

  constructor(
    @Inject(QUOTA_CONFIG) private readonly config: QuotaConfig,
    @Inject(DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly admissions: AdmissionCache,
    private readonly balances: BalanceCache,
    private readonly catalog: CatalogService,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.agentMinimumMc = agentMinimum(config.ADMISSION_AGENT_MINIMUM_CREDITS);
    this.decisions = new Counter({
      name: 'quota_admissions_total',
      help: 'Admission decisions by action and outcome',
      labelNames: ['action', 'outcome'],
      registers: [registry],
    });
    this.coldLoadCount = new Counter({
      name: 'quota_cold_loads_total',
      help: 'Organizations loaded from PostgreSQL because Redis had no balance for them',
      registers: [registry],
    });
  }

  async admit(request: AdmissionRequest): Promise<AdmissionGrantedDto> {
    assertAction(request.action);
    const action: Action = request.action;
    try {
      const budget = { expired: false };
      const granted = await this.withinDeadline(this.decide(request, action, budget), budget);
      this.decisions.inc({ action, outcome: granted.replay ? 'REPLAY' : 'ADMIT' });
      return granted;
    } catch (error) {
      if (!(error instanceof DependencyFailure)) {
        if (error instanceof TallyError) this.decisions.inc({ action, outcome: error.code });
        throw error;
      }
      const open = failsOpen(
        action,
        this.config.ADMISSION_FAIL_OPEN_ACTIONS,
        this.config.ADMISSION_FAIL_CLOSED_ACTIONS,
      );
      this.logger.warn(
        { orgId: request.orgId, action, dependency: error.dependency, reason: error.reason, failedOpen: open },
        'admission could not be decided',
      );
      this.decisions.inc({ action, outcome: open ? 'FAILED_OPEN' : 'DEPENDENCY_UNAVAILABLE' });
      if (!open) {
        throw Errors.dependencyUnavailable(
          `${error.message}; ${action} failed closed and was not admitted. Retry shortly.`,
          1,
        );
      }
      return {
        admitted: true,
        admissionId: request.admissionId,
        orgId: request.orgId,
        action,
        reservedMs: '0',
        reservedHours: '0',
        holdExpiresAt: null,
        replay: false,
        degraded: `${error.message}; ${action} failed open (admitted without a quota check).`,
      };
    }
  }

  async release(orgId: string, admissionId: string): Promise<AdmissionReleasedDto> {
    if (!isAdmissionId(admissionId)) {
      throw Errors.invalidAdmissionId();
    }
    const { releasedMs } = await this.withinDeadline(
      on('Redis', () => this.admissions.release(orgId, admissionId, this.config.ADMISSION_RECORD_TTL_SECONDS * 1000)),
    ).catch((error) => {
      if (error instanceof DependencyFailure) {
        throw Errors.dependencyUnavailable(`${error.message}; the hold was not released. Retry.`, 1);
      }
      throw error;
    });
    return { admissionId, orgId, releasedMs: releasedMs.toString() };
  }

  /**
   * `budget.expired` turns true when the caller has already been answered 503: the work goes on
   * (a cold load still fills the cache for the retry) but takes no hold nobody will hear of.
   */
  private async decide(
    request: AdmissionRequest,
    action: Action,
    budget: { expired: boolean },
  ): Promise<AdmissionGrantedDto> {
    const kind = admissionKind(action);
    const planName = await on('PostgreSQL', () => this.catalog.orgPlan(request.orgId));
    if (planName === null) throw Errors.orgNotFound();
    const plan = await on('PostgreSQL', () => this.catalog.plan(planName));
    if (!plan)
      throw new DependencyFailure('PostgreSQL', `has no plan named ${JSON.stringify(planName)} in the catalog`);

    let reserveMs = 0n;
    let requiredTier = 0;
    if (kind === 'create' || kind === 'extend') {
      const params = request.params ?? {};
      // sandbox.create must name its shape (metering prices the durable hold with it); an
      // extension is priced by the sandbox's shape, which the caller may not repeat.
      const shapeName = kind === 'extend' ? (params.shape ?? this.config.ADMISSION_DEFAULT_SHAPE) : params.shape;
      const shape =
        typeof shapeName === 'string' ? await on('PostgreSQL', () => this.catalog.shape(shapeName)) : undefined;
      if (!shape) {
        const problem =
          shapeName === undefined
            ? `params.shape is required for ${action}.`
            : `Unknown sandbox shape ${JSON.stringify(shapeName)}.`;
        throw Errors.invalidRequest('params.shape', problem);
      }
      const seconds = reservedSeconds(kind, params);
      reserveMs = reserveFor(seconds, shape);
      requiredTier = shape.requiredPlanTier;
    }

    const input = {
      orgId: request.orgId,
      keyId: request.keyId,
      admissionId: request.admissionId,
      kind,
      fingerprint: fingerprint(request.keyId, action, reserveMs),
      reserveMs,
      holdTtlMs: this.config.ADMISSION_HOLD_TTL_SECONDS * 1000,
      recordTtlMs: this.config.ADMISSION_RECORD_TTL_SECONDS * 1000,
      planTier: plan.tier,
      requiredTier,
      concurrentLimit: plan.concurrentSandboxes,
      agentMinimumMc: this.agentMinimumMc,
      orgRatePerSecond: plan.orgRequestsPerSecond,
      keyRatePerSecond: plan.keyRequestsPerSecond,
    };
    const admit = () => {
      if (budget.expired) throw new DependencyFailure('Redis', 'or PostgreSQL answered after the deadline');
      return on('Redis', () => this.admissions.admit(input));
    };
    let outcome = await admit();
    if (outcome.outcome === 'MISS') {
      await this.loadCold(request.orgId);
      outcome = await admit();
      if (outcome.outcome === 'MISS') throw new DependencyFailure('Redis', 'lost the balance just loaded');
    }
    return this.answer(request, action, outcome, planName, plan.tier, requiredTier, reserveMs);
  }

  /** Cold cache: PostgreSQL's truth through metering's loader, written with the same versioned apply. */
  private loadCold(orgId: string): Promise<void> {
    let loading = this.coldLoads.get(orgId);
    if (!loading) {
      loading = (async () => {
        this.coldLoadCount.inc();
        const snapshot = await on('PostgreSQL', async () =>
          (await loadOrgBalances(this.dataSource, [orgId], new Date())).get(orgId),
        );
        if (!snapshot) throw new DependencyFailure('PostgreSQL', `returned no balance for ${orgId}`);
        await on('Redis', () => this.balances.apply(orgId, snapshot));
      })().finally(() => this.coldLoads.delete(orgId));
      this.coldLoads.set(orgId, loading);
    }
    return loading;
  }

  private answer(
    request: AdmissionRequest,
    action: Action,
    outcome: AdmissionOutcome,
    planName: string,
    planTier: number,
    requiredTier: number,
    reserveMs: bigint,
  ): AdmissionGrantedDto {
    switch (outcome.outcome) {
      case 'ADMIT':
        return {
          admitted: true,
          admissionId: request.admissionId,
          orgId: request.orgId,
          action,
          reservedMs: outcome.reservedMs.toString(),
          reservedHours: msToHours(outcome.reservedMs),
          holdExpiresAt: outcome.expiresAtMs > 0 ? new Date(outcome.expiresAtMs).toISOString() : null,
          replay: outcome.replay,
        };
      case 'CONFLICT':
        throw Errors.conflict(
          `Admission id ${request.admissionId} was already used for a different request; use a new id.`,
          'admissionId',
        );
      case 'RELEASED':
        throw Errors.conflict(`Admission ${request.admissionId} was released; use a new admission id.`, 'admissionId');
      case 'RATE_LIMITED':
        throw Errors.rateLimited(
          `Too many requests for this ${outcome.scope === 'key' ? 'API key' : 'organization'} on plan ${planName}.`,
          retryAfterSeconds(outcome.waitMs),
        );
      case 'PLAN_TIER_TOO_LOW':
        throw Errors.planTierTooLow(
          `This sandbox shape needs plan tier ${requiredTier}; the organization's plan ${planName} is tier ${planTier}.`,
        );
      case 'CONCURRENT_SANDBOX_LIMIT':
        throw Errors.concurrentSandboxLimit(
          `Plan ${planName} allows ${outcome.limit} concurrent sandboxes; ${outcome.running} are running and ${outcome.provisional} starting.`,
          this.config.ADMISSION_CONCURRENT_RETRY_AFTER_SECONDS,
        );
      case 'INSUFFICIENT_SANDBOX_HOURS':
        throw Errors.insufficientSandboxHours(
          `${action} needs ${msToHours(reserveMs)} sandbox hours reserved; ${msToHours(outcome.availableMs)} are available.`,
        );
      case 'INSUFFICIENT_AGENT_CREDITS':
        throw Errors.insufficientAgentCredits(
          `${action} needs at least ${milliToCredits(this.agentMinimumMc)} agent credits; ${milliToCredits(outcome.availableMc)} are available.`,
        );
      case 'MISS':
        throw new DependencyFailure('Redis', 'has no balance for the organization');
    }
  }

  private withinDeadline<T>(work: Promise<T>, budget: { expired: boolean } = { expired: false }): Promise<T> {
    const timeoutMs = this.config.ADMISSION_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        budget.expired = true;
        reject(new DependencyFailure('Redis', `or PostgreSQL did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    // The work may still fail after the deadline answered: nobody waits for it any more.
    work.catch(() => undefined);
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}
