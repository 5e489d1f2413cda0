import { Inject, Injectable } from '@nestjs/common';
import {
  Action,
  admissionIdFor,
  assertAction,
  cloudEvent,
  ErrorCode,
  Errors,
  EventTypes,
  isMetered,
  parseApiKey,
  topicName,
  Topics,
  verifiedEventIdFor,
} from '@tally/contracts';
import { KAFKA_OPTIONS, KafkaModuleOptions, OutgoingEvent } from '@tally/kafka';
import { timingSafeEqual } from 'node:crypto';
import { ADMISSION_CLIENT, AdmissionClient } from '../admission/admission.client';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { EventBatcher } from '../events/event-batcher.service';
import { eventId } from '../events/event-id';
import { callerGaveUp, MeteredEvents } from '../events/metered-events';
import { CachedKey, KeyCacheService } from '../key-cache/key-cache.service';
import { OrgStateService } from '../orgs/org-state.service';
import { decide } from '../permissions/permission-matrix';
import { VerifyAllowedDto, VerifyRequestDto } from './dto/verify-request.dto';
import { Caller, FailureThrottle } from './failure-throttle.service';
import { LastUsedWriter } from './last-used.writer';
import { SecretHasher } from './secret-hasher';

const THROTTLED = 'Too many failed verifications; retry later.';

/** How the caller sent the request: when it stops waiting (ms since epoch). */
export interface VerifyCall {
  deadline?: number;
}

/** One verification: what is asked, from where (the throttles' bucket), under which idempotency key, until when. */
interface Attempt {
  action: Action;
  caller: Caller;
  source: string;
  idempotencyKey?: string;
  deadline?: number;
}

type ResourceRef = { type: string; id: string };

function knownAction(action: string): Action {
  assertAction(action);
  return action;
}

/**
 * Decides whether an API key may perform an action in an organization, and publishes the
 * decision. The organization always comes from the key; the request's `orgId` only has to match.
 */
@Injectable()
export class VerifyService {
  private readonly verifiedTopic: string;
  private readonly deniedTopic: string;
  private readonly hasher: SecretHasher;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(KAFKA_OPTIONS) kafka: KafkaModuleOptions,
    @Inject(ADMISSION_CLIENT) private readonly admission: AdmissionClient,
    private readonly keys: KeyCacheService,
    private readonly throttle: FailureThrottle,
    private readonly lastUsed: LastUsedWriter,
    private readonly events: EventBatcher,
    private readonly metered: MeteredEvents,
    private readonly orgs: OrgStateService,
  ) {
    this.verifiedTopic = topicName(kafka.topicPrefix, Topics.actionVerified);
    this.deniedTopic = topicName(kafka.topicPrefix, Topics.actionDenied);
    this.hasher = new SecretHasher(config.API_KEY_PEPPER);
  }

  async verify(request: VerifyRequestDto, peerAddress: string, call: VerifyCall = {}): Promise<VerifyAllowedDto> {
    const attempt: Attempt = {
      action: knownAction(request.action),
      caller: { address: request.sourceAddress, gateway: peerAddress },
      // The end user's address as the gateway saw it; the gateway's own address otherwise.
      source: request.sourceAddress ?? peerAddress,
      idempotencyKey: request.idempotencyKey,
      deadline: call.deadline,
    };
    const key = await this.authenticate(request.key, attempt);
    this.lastUsed.touch(key.id);
    this.authorize(key, request.orgId, attempt);
    await this.active(key, attempt);
    const resource = request.resource ? { type: request.resource.type, id: request.resource.id } : null;
    const params = request.params ?? {};
    const admissionId = await this.admit(key, attempt, resource, params);
    const event = this.verifiedEvent(key, attempt, resource, params, admissionId);
    await this.publishVerified(event, key, attempt, admissionId);
    const { orgId, id: keyId, createdBy: userId } = key;
    return { allowed: true, orgId, keyId, userId, action: attempt.action, eventId: event.value.id, admissionId };
  }

  /** Refuses the attempt with `code`, publishing the denial first. */
  private deny(attempt: Attempt, code: ErrorCode, message: string, key?: CachedKey, retryAfterSeconds?: number): never {
    this.publishDenied(attempt.action, code, attempt.source, key);
    throw Errors.decided(code, message, { retryAfterSeconds });
  }

  /**
   * The live key the presented string proves. Checksum first: a malformed or made-up key costs no
   * lookup. A key this instance or Redis holds is judged without PostgreSQL and, when its secret is
   * right, whatever the throttles say: a proven secret is never someone else's failure.
   */
  private async authenticate(presentedKey: string, attempt: Attempt): Promise<CachedKey> {
    const parsed = parseApiKey(this.config.API_KEY_PREFIX, presentedKey);
    if (!parsed) {
      this.throttle.note('malformed');
      return this.deny(attempt, 'INVALID_API_KEY', 'The API key is malformed or its checksum is wrong.');
    }
    const presented = this.hasher.hash(parsed.secret);
    const id = parsed.lookupId;
    const cached = this.keys.peek(id) ?? (await this.keys.readRedis(id));
    if (cached === undefined) return this.lookUp(id, presented, attempt);
    if (cached && timingSafeEqual(presented, cached.secretHash)) return this.live(cached, attempt);
    // A guess answered by a cache: counted now (no PostgreSQL was asked).
    const wait = await this.throttle.checkAndCount(this.throttle.countersFor(attempt.caller, id));
    return wait > 0 ? this.throttled(attempt, wait) : this.guessed(attempt);
  }

  /**
   * A key no cache holds: counted against the throttles before PostgreSQL is asked (atomically,
   * so concurrent guesses cannot all pass), refunded once its secret proves it. A secret this
   * instance has seen prove the key is not counted at all.
   */
  private async lookUp(id: string, presented: Buffer, attempt: Attempt): Promise<CachedKey> {
    const proven = this.keys.knows(id, presented);
    const counters = proven ? [] : this.throttle.countersFor(attempt.caller, id);
    const wait = await this.throttle.checkAndCount(counters);
    if (wait > 0) return this.throttled(attempt, wait);
    const key = await this.keys.loadFromPostgres(id, proven);
    if (!key || !timingSafeEqual(presented, key.secretHash)) return this.guessed(attempt);
    this.throttle.refund(counters);
    return this.live(key, attempt);
  }

  /** A key whose secret is right: refused only when revoked (counted apart from guesses). */
  private live(key: CachedKey, attempt: Attempt): CachedKey {
    if (!key.revoked) return key;
    this.throttle.note('revoked');
    return this.deny(attempt, 'API_KEY_REVOKED', 'The API key has been revoked.', key);
  }

  private guessed(attempt: Attempt): never {
    this.throttle.note('guess');
    return this.deny(attempt, 'INVALID_API_KEY', 'The API key is not valid.');
  }

  private throttled(attempt: Attempt, retryAfterSeconds: number): never {
    return this.deny(attempt, 'RATE_LIMITED', THROTTLED, undefined, retryAfterSeconds);
  }

  /** The key's own organization, and an action an API key may perform at all. */
  private authorize(key: CachedKey, orgId: string, attempt: Attempt): void {
    // Another org's resources look exactly like ones that do not exist.
    if (key.orgId !== orgId) this.deny(attempt, 'NOT_FOUND', 'No such organization or resource.', key);
    const decision = decide({ kind: 'api_key' }, attempt.action);
    if (!decision.allowed) this.deny(attempt, decision.code, decision.reason, key);
  }

  /**
   * A suspended organization may do nothing until it is resumed (docs/ORGANIZATIONS.md), except
   * stop what still runs and is billed (sandbox.delete); its holds are kept.
   */
  private async active(key: CachedKey, attempt: Attempt): Promise<void> {
    if (attempt.action === 'sandbox.delete') return;
    if (await this.orgs.suspended(key.orgId)) {
      const error = Errors.orgSuspended();
      this.deny(attempt, error.code, error.message, key);
    }
  }

  /** Quota's admission of a metered action (its admission id); null for any other action. */
  private async admit(
    key: CachedKey,
    attempt: Attempt,
    resource: ResourceRef | null,
    params: Record<string, unknown>,
  ): Promise<string | null> {
    if (!isMetered(attempt.action)) return null;
    const { action, idempotencyKey, deadline } = attempt;
    // Nothing is held for a caller that has already given up.
    if (deadline !== undefined && deadline <= Date.now()) throw callerGaveUp();
    // A retry with the same idempotency key names the same admission: quota replays its decision.
    const admissionId = idempotencyKey ? admissionIdFor(key.orgId, idempotencyKey) : eventId();
    const { orgId, id: keyId } = key;
    const admitted = await this.admission.admit({ orgId, keyId, action, resource, params, admissionId, deadline });
    if (admitted.admitted) return admitted.admissionId;
    return this.deny(attempt, admitted.code, this.denialMessage(attempt, admitted), key, admitted.retryAfterSeconds);
  }

  /** A conflict on an admission derived from an idempotency key is about the key. */
  private denialMessage(attempt: Attempt, denied: { code: ErrorCode; message: string }): string {
    if (denied.code !== 'CONFLICT' || !attempt.idempotencyKey) return denied.message;
    return 'This Idempotency-Key was already used for a different request, or its action was voided; use a new key.';
  }

  /** The auth.action.verified event of an allowed action, keyed by its organization. */
  private verifiedEvent(
    key: CachedKey,
    { action, idempotencyKey }: Attempt,
    resource: ResourceRef | null,
    params: Record<string, unknown>,
    admissionId: string | null,
  ) {
    const data = { orgId: key.orgId, keyId: key.id, userId: key.createdBy, action, resource, params, admissionId };
    return {
      topic: this.verifiedTopic,
      key: key.orgId,
      value: cloudEvent({
        // The same idempotency key republishes the same event: metering deduplicates it.
        id: idempotencyKey ? verifiedEventIdFor(key.orgId, idempotencyKey) : eventId(),
        source: this.config.EVENT_SOURCE,
        type: EventTypes.actionVerified,
        subject: key.orgId,
        data,
      }),
    };
  }

  /**
   * A metered action is billed from its verified event: without Kafka's acknowledgement before
   * the caller's deadline it is refused, voided and its hold released (MeteredEvents). Any other
   * action's event is batched.
   */
  private async publishVerified(
    event: OutgoingEvent,
    key: CachedKey,
    attempt: Attempt,
    admissionId: string | null,
  ): Promise<void> {
    if (!isMetered(attempt.action)) return this.events.send(event);
    await this.metered.publish(event, { orgId: key.orgId, admissionId }, attempt.deadline);
  }

  /** Denials are batched: they never delay the answer; unsent ones are counted and logged. */
  private publishDenied(action: Action, code: ErrorCode, sourceAddress: string, key?: CachedKey): void {
    const subject = key?.orgId ?? 'unknown';
    this.events.trySend({
      topic: this.deniedTopic,
      key: subject,
      value: cloudEvent({
        id: eventId(),
        source: this.config.EVENT_SOURCE,
        type: EventTypes.actionDenied,
        subject,
        data: { orgId: key?.orgId ?? null, keyId: key?.id ?? null, action, code, sourceAddress },
      }),
    });
  }
}
