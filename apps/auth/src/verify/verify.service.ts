import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  Action,
  cloudEvent,
  ErrorCode,
  EventTypes,
  isAction,
  parseApiKey,
  TallyError,
  Topics,
  topicName,
} from '@tally/contracts';
import { EventPublisher, KAFKA_OPTIONS, KafkaModuleOptions } from '@tally/kafka';
import { ulid } from 'ulid';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { AUTH_CONFIG, AuthConfig } from '../config/auth.config';
import { decide } from '../permissions/permission-matrix';
import { VerifyAllowedDto, VerifyRequestDto } from './dto/verify-request.dto';

/**
 * Decides whether an API key may perform an action in an organization, and publishes the
 * decision. The organization always comes from the key; the request's `orgId` only has to match.
 */
@Injectable()
export class VerifyService {
  private readonly logger = new Logger(VerifyService.name);

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(KAFKA_OPTIONS) private readonly kafka: KafkaModuleOptions,
    private readonly apiKeys: ApiKeysService,
    private readonly publisher: EventPublisher,
  ) {}

  async verify(request: VerifyRequestDto, sourceAddress: string): Promise<VerifyAllowedDto> {
    if (!isAction(request.action)) {
      throw new TallyError('INVALID_REQUEST', `Unknown action ${JSON.stringify(request.action)}.`, { field: 'action' });
    }
    const action: Action = request.action;
    const deny = (code: ErrorCode, message: string, key?: { orgId: string; id: string }): never => {
      this.publishDenied(action, code, sourceAddress, key);
      throw new TallyError(code, message);
    };

    // Checksum first: a malformed or made-up key costs no lookup.
    const parsed = parseApiKey(this.config.API_KEY_PREFIX, request.key);
    if (!parsed) return deny('INVALID_API_KEY', 'The API key is malformed or its checksum is wrong.');
    const checked = await this.apiKeys.check(parsed.lookupId, parsed.secret);
    if (checked.status === 'unknown') return deny('INVALID_API_KEY', 'The API key is not valid.');
    if (checked.status === 'revoked') return deny('API_KEY_REVOKED', 'The API key has been revoked.', checked.key);
    const key = checked.key;
    // Another org's resources look exactly like ones that do not exist.
    if (key.orgId !== request.orgId) return deny('NOT_FOUND', 'No such organization or resource.', key);
    const decision = decide({ kind: 'api_key' }, action);
    if (!decision.allowed) return deny(decision.code, decision.reason, key);

    const eventId = ulid();
    await this.publisher.publish({
      topic: topicName(this.kafka.topicPrefix, Topics.actionVerified),
      key: key.orgId,
      value: cloudEvent({
        id: eventId,
        source: this.config.EVENT_SOURCE,
        type: EventTypes.actionVerified,
        subject: key.orgId,
        data: {
          orgId: key.orgId,
          keyId: key.id,
          userId: key.createdBy,
          action,
          resource: request.resource ?? null,
          params: request.params ?? {},
          admissionId: null,
        },
      }),
    });
    return { allowed: true, orgId: key.orgId, keyId: key.id, userId: key.createdBy, action, eventId };
  }

  /** Denials are published without delaying the answer; a failed send is logged, never thrown. */
  private publishDenied(
    action: Action,
    code: ErrorCode,
    sourceAddress: string,
    key?: { orgId: string; id: string },
  ): void {
    const subject = key?.orgId ?? 'unknown';
    this.publisher
      .publish({
        topic: topicName(this.kafka.topicPrefix, Topics.actionDenied),
        key: subject,
        value: cloudEvent({
          id: ulid(),
          source: this.config.EVENT_SOURCE,
          type: EventTypes.actionDenied,
          subject,
          data: { orgId: key?.orgId ?? null, keyId: key?.id ?? null, action, code, sourceAddress },
        }),
      })
      .catch((error) => this.logger.warn({ err: error, code }, 'could not publish a denied-action event'));
  }
}
