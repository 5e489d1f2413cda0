import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Action,
  ALL_ACTIONS,
  assertAction,
  Errors,
  isMetered,
  milliToCredits,
  msToHours,
  sandboxCost,
  TallyError,
  VoidReasons,
} from '@tally/contracts';
import {
  DECISION_ALLOWED,
  DECISION_DEADLINE_PASSED,
  DECISION_FAILED_OPEN,
  decisionCounter,
  METRICS_REGISTRY,
} from '@tally/platform';
import { AdmissionCache, AdmissionInput, AdmissionOutcome, BalanceCache, ProvisionalSandbox } from '@tally/redis';
import { Counter, Registry } from 'prom-client';
import { PlanSpec } from '../catalog/catalog.repository';
import { CatalogService } from '../catalog/catalog.service';
import { QUOTA_CONFIG, QuotaConfig } from '../config/quota.config';
import {
  admissionKind,
  agentReserve,
  failsOpen,
  fingerprint,
  reservedSeconds,
  reserveFor,
  retryAfterSeconds,
} from './admission-policy';
import { AdmissionVoids } from './admission-voids';
import { BalanceSnapshotRepository } from './balance-snapshot.repository';
import { SandboxPricesRepository } from './sandbox-prices.repository';
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

/** An admission request priced against the catalog: what the Lua call decides, and what answers name. */
interface Priced {
  plan: PlanSpec;
  requiredTier: number;
  reserveMs: bigint;
  input: AdmissionInput;
}

/** What a sandbox action reserves, the tier its shape needs, and the sandbox it names. */
interface SandboxReserve {
  reserveMs: bigint;
  requiredTier: number;
  sandbox: ProvisionalSandbox | undefined;
}

/** The sandbox a request names (`resource: {type: "sandbox", id}`), as metering keys its hold. */
const namedSandbox = (request: AdmissionRequest): string | undefined =>
  request.resource?.type === 'sandbox' ? request.resource.id : undefined;

/** Everything one answer is built from (named: the mapping reads no positional arguments). */
interface AnswerInput {
  request: AdmissionRequest;
  action: Action;
  outcome: AdmissionOutcome;
  priced: Priced;
}

/** Set when the decision's time is up: work still running takes no hold nobody will hear of. */
interface Budget {
  expired: boolean;
}

const pastDeadline = (deadline: number | undefined): boolean => deadline !== undefined && deadline <= Date.now();

const deadlinePassed = (action: Action) =>
  Errors.dependencyUnavailable(`The caller's deadline passed before ${action} was decided; nothing was held.`, 1);

/** The caller's deadline, not a dependency, ended the decision: answered like one, counted apart. */
class CallerDeadlinePassed extends Error {}

/**
 * Admission decisions. Everything that needs a consistent view (holds, balance, concurrency, rate)
 * is decided in ONE Lua call; TypeScript only prepares integer inputs from the in-memory catalog
 * and maps the outcome to the error contract. Branch order: an admission id already decided
 * replays its answer; past the caller's deadline nothing new is held; a dependency that cannot
 * answer fails closed (metered) or open. Every decision is bounded by ADMISSION_TIMEOUT_MS and
 * by the caller's deadline.
 */
@Injectable()
export class AdmissionsService {
  private readonly logger = new Logger(AdmissionsService.name);
  /** Milli-credits an agent.run holds provisionally: its fixed cost. */
  private readonly agentReserveMc: bigint;
  private readonly coldLoads = new Map<string, Promise<void>>();
  /** Decisions by action and outcome (ADMIT, REPLAY, a denial code, DEADLINE, FAILED_OPEN, DEPENDENCY_UNAVAILABLE). */
  private readonly decisions: Counter<'action' | 'outcome'>;
  private readonly coldLoadCount: Counter;
  /** tally_decisions_total, the series every decision service shares: ALLOWED, FAILED_OPEN or the error code. */
  private readonly byCode: Counter<'action' | 'code'>;

  constructor(
    @Inject(QUOTA_CONFIG) private readonly config: QuotaConfig,
    private readonly snapshots: BalanceSnapshotRepository,
    private readonly admissions: AdmissionCache,
    private readonly balances: BalanceCache,
    private readonly catalog: CatalogService,
    private readonly voids: AdmissionVoids,
    private readonly sandboxes: SandboxPricesRepository,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.agentReserveMc = agentReserve(config.ADMISSION_AGENT_MINIMUM_CREDITS);
    this.decisions = new Counter({
      name: 'quota_admissions_total',
      help: 'Admission decisions by action and outcome',
      labelNames: ['action', 'outcome'],
      registers: [registry],
    });
    this.byCode = decisionCounter(registry);
    // The fail-closed series exists from the start: an alert on it reads zero, not "no data".
    for (const action of ALL_ACTIONS.filter(isMetered)) this.byCode.inc({ action, code: 'DEPENDENCY_UNAVAILABLE' }, 0);
    this.coldLoadCount = new Counter({
      name: 'quota_cold_loads_total',
      help: 'Organizations loaded from PostgreSQL because Redis had no balance for them',
      registers: [registry],
    });
  }

  /** `deadline`: when the caller stops waiting (ms since epoch), from its x-deadline-ms header. */
  async admit(request: AdmissionRequest, deadline?: number): Promise<AdmissionGrantedDto> {
    const { action } = request;
    assertAction(action);
    try {
      const granted = pastDeadline(deadline)
        ? await this.withinDeadline(this.replayOrRefuse(request, action))
        : await this.decideWithin(request, action, deadline);
      this.decisions.inc({ action, outcome: granted.replay ? 'REPLAY' : 'ADMIT' });
      this.byCode.inc({ action, code: DECISION_ALLOWED });
      return granted;
    } catch (error) {
      return this.failed(request, action, error);
    }
  }

  /** Drops the provisional hold and tells metering the admission is void; idempotent, retry on 503. */
  async release(orgId: string, admissionId: string): Promise<AdmissionReleasedDto> {
    if (!isAdmissionId(admissionId)) throw Errors.invalidAdmissionId();
    const { releasedMs, releasedMc } = await this.withinDeadline(
      on('Redis', () => this.admissions.release(orgId, admissionId, this.config.ADMISSION_RECORD_TTL_SECONDS * 1000)),
    ).catch((error) => {
      if (error instanceof DependencyFailure) {
        throw Errors.dependencyUnavailable(`${error.message}; the hold was not released (failed closed). Retry.`, 1);
      }
      throw error;
    });
    await this.voids.publish(orgId, admissionId, VoidReasons.released).catch((error: Error) => {
      throw Errors.dependencyUnavailable(
        `Kafka did not record the void (${error.message}); the hold was released, metering not yet told (failed closed). Retry.`,
        1,
      );
    });
    return { admissionId, orgId, releasedMs: releasedMs.toString(), releasedAgentMc: releasedMc.toString() };
  }

  /** The decision, bounded by ADMISSION_TIMEOUT_MS and the caller's deadline, whichever comes first. */
  private decideWithin(request: AdmissionRequest, action: Action, deadline?: number): Promise<AdmissionGrantedDto> {
    const budget: Budget = { expired: false };
    const callerMs = (deadline ?? Infinity) - Date.now();
    const timeoutMs = Math.min(this.config.ADMISSION_TIMEOUT_MS, callerMs);
    return this.withinDeadline(this.decide(request, action, budget), budget, timeoutMs, callerMs <= timeoutMs);
  }

  private async decide(request: AdmissionRequest, action: Action, budget: Budget): Promise<AdmissionGrantedDto> {
    const priced = await this.price(request, action);
    const admit = () => {
      if (budget.expired) throw new DependencyFailure('Redis', 'or PostgreSQL answered after the deadline');
      return on('Redis', () => this.admissions.admit(priced.input));
    };
    let outcome = await admit();
    // A snapshot loaded just before a package boundary or hold expiry may be past it already: load once more.
    for (let load = 0; load < 2 && outcome.outcome === 'MISS'; load++) {
      await this.loadCold(request.orgId);
      outcome = await admit();
    }
    if (outcome.outcome === 'MISS') throw new DependencyFailure('Redis', 'lost the balance just loaded');
    return this.answer({ request, action, outcome, priced });
  }

  /** Past the caller's deadline: a retry of an admission already decided still gets its answer; nothing new is held. */
  private async replayOrRefuse(request: AdmissionRequest, action: Action): Promise<AdmissionGrantedDto> {
    const priced = await this.price(request, action);
    const record = await on('Redis', () => this.admissions.recorded(request.orgId, request.admissionId));
    if (!record || record.state === 'released' || record.fingerprint !== priced.input.fingerprint) {
      throw new CallerDeadlinePassed();
    }
    const outcome: AdmissionOutcome = {
      outcome: 'ADMIT',
      reservedMs: record.reservedMs,
      expiresAtMs: record.expiresAtMs,
      replay: true,
    };
    return this.answer({ request, action, outcome, priced });
  }

  /** The org's plan and, for sandbox actions, the shape's price: the Lua call's integer inputs. */
  private async price(request: AdmissionRequest, action: Action): Promise<Priced> {
    const kind = admissionKind(action);
    const plan = await this.planOf(request.orgId);
    const { reserveMs, requiredTier, sandbox } =
      kind === 'create'
        ? await this.createReserve(action, request)
        : kind === 'extend'
          ? await this.extendReserve(request)
          : { reserveMs: 0n, requiredTier: 0, sandbox: undefined };
    const input: AdmissionInput = {
      orgId: request.orgId,
      keyId: request.keyId,
      admissionId: request.admissionId,
      kind,
      fingerprint: fingerprint(
        request.keyId,
        action,
        kind === 'agent' ? this.agentReserveMc : reserveMs,
        request.resource?.id,
      ),
      reserveMs,
      holdTtlMs: this.config.ADMISSION_HOLD_TTL_SECONDS * 1000,
      recordTtlMs: this.config.ADMISSION_RECORD_TTL_SECONDS * 1000,
      planTier: plan.tier,
      requiredTier,
      concurrentLimit: plan.concurrentSandboxes,
      agentReserveMc: this.agentReserveMc,
      orgRatePerSecond: plan.orgRequestsPerSecond,
      keyRatePerSecond: plan.keyRequestsPerSecond,
      sandbox: kind === 'create' ? sandbox : undefined,
    };
    return { plan, requiredTier, reserveMs, input };
  }

  private async planOf(orgId: string): Promise<PlanSpec> {
    const planName = await on('PostgreSQL', () => this.catalog.orgPlan(orgId));
    if (planName === null) throw Errors.orgNotFound();
    const plan = await on('PostgreSQL', () => this.catalog.plan(planName));
    if (!plan)
      throw new DependencyFailure('PostgreSQL', `has no plan named ${JSON.stringify(planName)} in the catalog`);
    return { ...plan, name: planName };
  }

  /**
   * sandbox.create must name its shape (metering prices the durable hold with it); the sandbox it
   * makes is recorded with its price, for an extend that comes before metering's hold.
   */
  private async createReserve(action: Action, request: AdmissionRequest): Promise<SandboxReserve> {
    const params = request.params ?? {};
    const shapeName = params.shape;
    const shape =
      typeof shapeName === 'string' ? await on('PostgreSQL', () => this.catalog.shape(shapeName)) : undefined;
    if (!shape) {
      const problem =
        shapeName === undefined
          ? `params.shape is required for ${action}.`
          : `Unknown sandbox shape ${JSON.stringify(shapeName)}.`;
      throw Errors.invalidRequest('params.shape', problem);
    }
    const sandboxId = namedSandbox(request);
    return {
      reserveMs: reserveFor(reservedSeconds('create', params), shape),
      requiredTier: shape.requiredPlanTier,
      sandbox: sandboxId ? { id: sandboxId, shape: shape.name, pricePerHour: shape.pricePerHour } : undefined,
    };
  }

  /**
   * sandbox.extend is reserved at the price of the sandbox it names (metering's durable hold, or
   * the create quota just admitted), never at a shape the caller states; an unknown or stopped
   * sandbox is refused (404).
   */
  private async extendReserve(request: AdmissionRequest): Promise<SandboxReserve> {
    const seconds = reservedSeconds('extend', request.params ?? {});
    const sandboxId = namedSandbox(request);
    if (!sandboxId)
      throw Errors.invalidRequest(
        'resource.id',
        'sandbox.extend must name its sandbox: resource {type: "sandbox", id}.',
      );
    const sandbox = await on('PostgreSQL', () => this.sandboxes.running(request.orgId, sandboxId));
    if (!sandbox) throw Errors.sandboxNotFound();
    const shape = await on('PostgreSQL', () => this.catalog.shape(sandbox.shape));
    return {
      reserveMs: sandboxCost(BigInt(seconds) * 1000n, sandbox.pricePerHour),
      requiredTier: shape?.requiredPlanTier ?? 0,
      sandbox,
    };
  }

  /** A denial is rethrown (and counted); a dependency failure fails open or closed per action. */
  private failed(request: AdmissionRequest, action: Action, error: unknown): AdmissionGrantedDto {
    if (error instanceof CallerDeadlinePassed) {
      this.decisions.inc({ action, outcome: 'DEADLINE' });
      this.byCode.inc({ action, code: DECISION_DEADLINE_PASSED });
      throw deadlinePassed(action);
    }
    if (!(error instanceof DependencyFailure)) {
      if (error instanceof TallyError) this.decisions.inc({ action, outcome: error.code });
      this.byCode.inc({ action, code: error instanceof TallyError ? error.code : 'INTERNAL_ERROR' });
      throw error;
    }
    const open = failsOpen(action, this.config.ADMISSION_FAIL_OPEN_ACTIONS, this.config.ADMISSION_FAIL_CLOSED_ACTIONS);
    this.logger.warn(
      { orgId: request.orgId, action, dependency: error.dependency, reason: error.reason, failedOpen: open },
      'admission could not be decided',
    );
    this.decisions.inc({ action, outcome: open ? 'FAILED_OPEN' : 'DEPENDENCY_UNAVAILABLE' });
    this.byCode.inc({ action, code: open ? DECISION_FAILED_OPEN : 'DEPENDENCY_UNAVAILABLE' });
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
      reservedAgentMc: '0',
      holdExpiresAt: null,
      replay: false,
      degraded: `${error.message}; ${action} failed open (admitted without a quota check).`,
    };
  }

  /**
   * Cold cache (nothing cached, or a snapshot past its validity): PostgreSQL's truth through
   * metering's loader, written with the same versioned apply.
   */
  private loadCold(orgId: string): Promise<void> {
    let loading = this.coldLoads.get(orgId);
    if (!loading) {
      loading = (async () => {
        this.coldLoadCount.inc();
        // At Redis's clock, which judges the snapshot's validity: a quota host behind it cannot load a stale one.
        const at = await on('Redis', () => this.balances.now());
        const snapshot = await on('PostgreSQL', () => this.snapshots.load(orgId, at));
        if (!snapshot) throw new DependencyFailure('PostgreSQL', `returned no balance for ${orgId}`);
        await on('Redis', () => this.balances.apply(orgId, snapshot, [], at));
      })().finally(() => this.coldLoads.delete(orgId));
      this.coldLoads.set(orgId, loading);
    }
    return loading;
  }

  private answer({ request, action, outcome, priced }: AnswerInput): AdmissionGrantedDto {
    if (outcome.outcome === 'ADMIT') {
      const agent = priced.input.kind === 'agent';
      const reservedMs = agent ? 0n : outcome.reservedMs;
      return {
        admitted: true,
        admissionId: request.admissionId,
        orgId: request.orgId,
        action,
        reservedMs: reservedMs.toString(),
        reservedHours: msToHours(reservedMs),
        reservedAgentMc: agent ? outcome.reservedMs.toString() : '0',
        holdExpiresAt: outcome.expiresAtMs > 0 ? new Date(outcome.expiresAtMs).toISOString() : null,
        replay: outcome.replay,
      };
    }
    throw this.denial({ request, action, outcome, priced });
  }

  /** The error a non-admitting outcome answers, worded for the caller. */
  private denial({ request, action, outcome, priced }: AnswerInput): Error {
    const { plan, requiredTier, reserveMs } = priced;
    switch (outcome.outcome) {
      case 'CONFLICT':
        return Errors.conflict(
          `Admission id ${request.admissionId} was already used for a different request; use a new id.`,
          'admissionId',
        );
      case 'RELEASED':
        return Errors.conflict(`Admission ${request.admissionId} was released; use a new admission id.`, 'admissionId');
      case 'RATE_LIMITED':
        return Errors.rateLimited(
          `Too many requests for this ${outcome.scope === 'key' ? 'API key' : 'organization'} on plan ${plan.name}.`,
          retryAfterSeconds(outcome.waitMs),
        );
      case 'PLAN_TIER_TOO_LOW':
        return Errors.planTierTooLow(
          `This sandbox shape needs plan tier ${requiredTier}; the organization's plan ${plan.name} is tier ${plan.tier}.`,
        );
      case 'CONCURRENT_SANDBOX_LIMIT':
        return Errors.concurrentSandboxLimit(
          `Plan ${plan.name} allows ${outcome.limit} concurrent sandboxes; ${outcome.running} are running and ${outcome.provisional} starting.`,
          this.config.ADMISSION_CONCURRENT_RETRY_AFTER_SECONDS,
        );
      case 'INSUFFICIENT_SANDBOX_HOURS':
        return Errors.insufficientSandboxHours(
          `${action} needs ${msToHours(reserveMs)} sandbox hours reserved; ${msToHours(outcome.availableMs)} are available.`,
        );
      case 'INSUFFICIENT_AGENT_CREDITS':
        return Errors.insufficientAgentCredits(
          `${action} reserves ${milliToCredits(this.agentReserveMc)} agent credits; ${milliToCredits(outcome.availableMc)} are available.`,
        );
      case 'MISS':
      case 'ADMIT':
        return new DependencyFailure('Redis', 'has no balance for the organization');
    }
  }

  private withinDeadline<T>(
    work: Promise<T>,
    budget: Budget = { expired: false },
    timeoutMs = this.config.ADMISSION_TIMEOUT_MS,
    callerBound = false,
  ): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          budget.expired = true;
          if (callerBound) reject(new CallerDeadlinePassed());
          else
            reject(new DependencyFailure('Redis', `or PostgreSQL did not answer within ${Math.max(0, timeoutMs)} ms`));
        },
        Math.max(0, timeoutMs),
      );
    });
    // The work may still fail after the deadline answered: nobody waits for it any more.
    work.catch(() => undefined);
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}
