import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Action,
  cloudEvent,
  ErrorCode,
  EventTypes,
  isAction,
  isMetered,
  parseApiKey,
  ParsedApiKey,
  TallyError,
  Topics,
  topicName,
} from '@tally/contracts';
import { KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { timingSafeEqual } from 'node:crypto';
import { ADMISSION_CLIENT, AdmissionClient } from '../admission/admission.client';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { EventBatcher } from '../events/event-batcher.service';
import { eventId } from '../events/event-id';
import { CachedKey, KeyCacheService } from '../key-cache/key-cache.service';
import { decide } from '../permissions/permission-matrix';
import { VerifyAllowedDto, VerifyRequestDto } from './dto/verify-request.dto';
import { FailureThrottle } from './failure-throttle.service';
import { LastUsedWriter } from './last-used.writer';
import { SecretHasher } from './secret-hasher';

const THROTTLED = 'Too many failed verifications; retry later.';

/** A live key whose stored HMAC matches the presented secret's (constant-time comparison). */
const proves = (key: CachedKey, presented: Buffer): boolean =>
  !key.revoked && timingSafeEqual(presented, key.secretHash);

/**
 * Decides whether an API key may perform an action in an organization, and publishes the
 * decision. The organization always comes from the key; the request's `orgId` only has to match.
 */
@Injectable()
export class VerifyService {
  private readonly logger = new Logger(VerifyService.name);
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
  ) {
    this.verifiedTopic = topicName(kafka.topicPrefix, Topics.actionVerified);
    this.deniedTopic = topicName(kafka.topicPrefix, Topics.actionDenied);
    this.hasher = new SecretHasher(config.API_KEY_PEPPER);
  }

  async verify(request: VerifyRequestDto, peerAddress: string): Promise<VerifyAllowedDto> {
    if (!isAction(request.action)) {
      throw new TallyError('INVALID_REQUEST', `Unknown action ${JSON.stringify(request.action)}.`, { field: 'action' });
    }
    const action: Action = request.action;
    // The end user's address as the gateway saw it; the gateway's own address otherwise.
    const source = request.sourceAddress ?? peerAddress;
    const deny = (code: ErrorCode, message: string, key?: CachedKey, retryAfterSeconds?: number): never => {
      this.publishDenied(action, code, source, key);
      throw new TallyError(code, message, { retryAfterSeconds });
    };

    // Checksum first: a malformed or made-up key costs no lookup.
    const parsed = parseApiKey(this.config.API_KEY_PREFIX, request.key);
    const presented = parsed ? this.hasher.hash(parsed.secret) : undefined;
    // Hot path: a live key in this instance's cache with the right secret needs neither Redis nor
    // PostgreSQL, and only its address's throttle applies (see checkUnproven).
    const cached = parsed ? this.keys.peek(parsed.lookupId) : undefined;
    let key: CachedKey;
    if (cached && proves(cached, presented!)) {
      const known = this.throttle.knownRetryAfter(source);
      if (known > 0) return deny('RATE_LIMITED', THROTTLED, undefined, known);
      key = cached;
    } else {
      key = await this.checkUnproven(parsed, presented, source, deny);
    }
    this.lastUsed.touch(key.id);
    // Another org's resources look exactly like ones that do not exist.
    if (key.orgId !== request.orgId) return deny('NOT_FOUND', 'No such organization or resource.', key);
    const decision = decide({ kind: 'api_key' }, action);
    if (!decision.allowed) return deny(decision.code, decision.reason, key);

    const resource = request.resource ? { type: request.resource.type, id: request.resource.id } : null;
    const params = request.params ?? {};
    let admissionId: string | null = null;
    const metered = isMetered(action);
    if (metered) {
      const admitted = await this.admission.admit({ orgId: key.orgId, keyId: key.id, action, resource, params });
      if (!admitted.admitted) return deny(admitted.code, admitted.message, key, admitted.retryAfterSeconds);
      admissionId = admitted.admissionId;
    }

    const id = eventId();
    const event = {
      topic: this.verifiedTopic,
      key: key.orgId,
      value: cloudEvent({
        id,
        source: this.config.EVENT_SOURCE,
        type: EventTypes.actionVerified,
        subject: key.orgId,
        data: { orgId: key.orgId, keyId: key.id, userId: key.createdBy, action, resource, params, admissionId },
      }),
    };
    if (metered) {
      // A metered action is billed from this event: no acknowledgement, no permission (fail closed).
      try {
        await this.events.sendAndWait(event, this.config.EVENT_ACK_TIMEOUT_MS);
      } catch (error) {
        this.logger.error(
          { err: error, orgId: key.orgId, action },
          'metered action refused: Kafka did not acknowledge',
        );
        if (admissionId) this.releaseHold(key.orgId, admissionId);
        throw new TallyError(
          'DEPENDENCY_UNAVAILABLE',
          'Kafka is unavailable, so the metered action cannot be recorded; refused (failed closed).',
        );
      }
    } else {
      this.events.send(event);
    }
    return { allowed: true, orgId: key.orgId, keyId: key.id, userId: key.createdBy, action, eventId: id, admissionId };
  }

  /**
   * A key not proven by this instance's cache: throttles first (a throttled caller never reaches
   * PostgreSQL), then Redis and PostgreSQL. A key id is throttled to stop its secret being
   * guessed; a caller presenting the right secret is not guessing, so for a throttled id a key
   * found in a cache (never PostgreSQL) that the secret proves is still let through; otherwise
   * anyone who knows a key's public id could lock its owner out.
   */
  private async checkUnproven(
    parsed: ParsedApiKey | null,
    presented: Buffer | undefined,
    source: string,
    deny: (code: ErrorCode, message: string, key?: CachedKey, retryAfterSeconds?: number) => never,
  ): Promise<CachedKey> {
    const throttled = (wait: number) => deny('RATE_LIMITED', THROTTLED, undefined, wait);
    const [addressWait, keyIdWait] = await Promise.all([
      this.throttle.retryAfter(source),
      parsed ? this.throttle.retryAfter(undefined, parsed.lookupId) : 0,
    ]);
    if (addressWait > 0) return throttled(addressWait);
    if (!parsed || !presented) {
      this.throttle.record(source);
      return deny('INVALID_API_KEY', 'The API key is malformed or its checksum is wrong.');
    }
    if (keyIdWait > 0) {
      const cached = await this.keys.getCached(parsed.lookupId);
      return cached && proves(cached, presented) ? cached : throttled(keyIdWait);
    }
    const key = await this.keys.get(parsed.lookupId);
    if (!key || !timingSafeEqual(presented, key.secretHash)) {
      this.throttle.record(source, parsed.lookupId);
      return deny('INVALID_API_KEY', 'The API key is not valid.');
    }
    if (key.revoked) {
      this.throttle.record(source, parsed.lookupId);
      return deny('API_KEY_REVOKED', 'The API key has been revoked.', key);
    }
    return key;
  }

  /**
   * The action was admitted by quota but refused here: its provisional hold would otherwise block
   * budget until its TTL. Best effort (the TTL is the safety net), without delaying the answer.
   */
  private releaseHold(orgId: string, admissionId: string): void {
    this.admission.release(orgId, admissionId).catch((error: unknown) => {
      this.logger.warn({ err: error, orgId, admissionId }, 'could not release the hold of a refused action');
    });
  }

  /** Denials are batched: they never delay the answer; unsent ones are counted and logged. */
  private publishDenied(action: Action, code: ErrorCode, sourceAddress: string, key?: CachedKey): void {
    const subject = key?.orgId ?? 'unknown';
    this.events.send({
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
