import {
  actionVerifiedEvent,
  admissionVoidedEvent,
  agentUsageEvent,
  CLOUD_EVENTS_SPEC,
  dataSchemaMajor,
  describeIssues,
  sandboxUsageEvent,
  Topics,
} from '@tally/contracts';
import { Decoded } from '@tally/kafka';
import { KafkaMessage } from 'kafkajs';
import { z } from 'zod';
import { ActionEvent, MeteringEvent } from '../ledger/metering-event';

/** The topics metering consumes, without the deployment's prefix. */
export const CONSUMED_TOPICS = [
  Topics.actionVerified,
  Topics.usageSandbox,
  Topics.usageAgent,
  Topics.admissionVoided,
] as const;

/** The major schema version this build understands (also in the topic names). */
const SUPPORTED_MAJOR = 1;

const positiveSeconds = z.union([
  z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 86_400),
  z
    .string()
    .regex(/^\d{1,9}$/)
    .transform(Number)
    .pipe(z.number().int().positive()),
]);

const reject = (reasonClass: string, reason: string): Decoded<MeteringEvent> => ({ ok: false, reason, reasonClass });

interface Envelope {
  source: string;
  id: string;
  time: string;
  subject: string;
  data: { orgId: string };
}

/** Validates against the topic's schema; the subject (the Kafka key's org) must be data's org. */
function parseWith<T extends Envelope>(
  schema: { safeParse(value: unknown): z.ZodSafeParseResult<T> },
  json: unknown,
  what: string,
): { event: T } | { rejected: Decoded<MeteringEvent> } {
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { rejected: reject('schema', `not ${what} event: ${describeIssues(parsed.error)}`) };
  if (parsed.data.subject !== parsed.data.data.orgId) {
    return { rejected: reject('schema', 'subject and data.orgId differ') };
  }
  return { event: parsed.data };
}

/**
 * Turns one raw message into a metering event, or says why it is poison: unparseable, an
 * unknown (major) version, or the wrong schema. Pure and synchronous; organizations and shapes
 * are checked against PostgreSQL when the batch is posted.
 */
export function decodeMeteringEvent(message: KafkaMessage, topic: string): Decoded<MeteringEvent> {
  const base = CONSUMED_TOPICS.find((name) => topic.endsWith(name));
  if (!base) return reject('schema', `metering does not consume ${topic}`);
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    return reject('unparseable', 'value is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return reject('unparseable', 'value is not a JSON object');
  }
  const envelope = json as Record<string, unknown>;
  if (envelope.specversion !== undefined && envelope.specversion !== CLOUD_EVENTS_SPEC) {
    return reject('version', `unknown CloudEvents specversion ${JSON.stringify(envelope.specversion)}`);
  }
  const major = dataSchemaMajor(envelope.dataschema);
  if (major !== null && major !== SUPPORTED_MAJOR) {
    return reject('version', `unknown major schema version v${major} (this consumer reads v${SUPPORTED_MAJOR})`);
  }
  const ref = (event: Envelope) => ({
    source: event.source,
    id: event.id,
    topic,
    partition: 0,
    offset: '0',
    orgId: event.data.orgId,
    at: new Date(event.time),
  });

  if (base === Topics.usageSandbox) {
    const parsed = parseWith(sandboxUsageEvent, json, `a ${base}`);
    if ('rejected' in parsed) return parsed.rejected;
    const { data } = parsed.event;
    return {
      ok: true,
      value: {
        ...ref(parsed.event),
        kind: 'sandbox',
        type: parsed.event.type,
        sandboxId: data.sandboxId,
        shape: data.shape,
        runtimeMs: data.runtimeMs,
        sequence: data.sequence,
      },
    };
  }
  if (base === Topics.admissionVoided) {
    const parsed = parseWith(admissionVoidedEvent, json, `an ${base}`);
    if ('rejected' in parsed) return parsed.rejected;
    const { admissionId, reason } = parsed.event.data;
    return { ok: true, value: { ...ref(parsed.event), kind: 'void', admissionId, reason } };
  }
  if (base === Topics.usageAgent) {
    const parsed = parseWith(agentUsageEvent, json, `a ${base}`);
    if ('rejected' in parsed) return parsed.rejected;
    const { data } = parsed.event;
    return {
      ok: true,
      value: {
        ...ref(parsed.event),
        kind: 'agent',
        runId: data.runId,
        credits: data.credits,
        usageKind: data.kind,
      },
    };
  }

  const parsed = parseWith(actionVerifiedEvent, json, `an ${base}`);
  if ('rejected' in parsed) return parsed.rejected;
  const { data } = parsed.event;
  const params = data.params ?? {};
  const sandboxAction = data.action.startsWith('sandbox.');
  const sandboxId = sandboxAction
    ? ((data.resource?.type === 'sandbox' ? data.resource.id : undefined) ??
      (typeof params.sandboxId === 'string' && params.sandboxId ? params.sandboxId : undefined) ??
      (data.action === 'sandbox.create' ? (data.admissionId ?? `${parsed.event.source}/${parsed.event.id}`) : null))
    : null;
  const event: ActionEvent = {
    ...ref(parsed.event),
    kind: 'action',
    action: data.action,
    keyId: data.keyId,
    admissionId: data.admissionId ?? null,
    sandboxId,
    shape: typeof params.shape === 'string' ? params.shape : null,
    lifeSeconds: null,
    extendSeconds: null,
  };
  if (data.action === 'sandbox.create') {
    const life = positiveSeconds.safeParse(params.maxLifeSeconds);
    if (!event.shape || !life.success) {
      return reject('schema', 'sandbox.create needs params.shape and a positive integer params.maxLifeSeconds');
    }
    event.lifeSeconds = life.data;
  } else if (data.action === 'sandbox.extend') {
    const extend = positiveSeconds.safeParse(params.extendSeconds ?? params.seconds);
    if (!extend.success || !sandboxId) {
      return reject(
        'schema',
        'sandbox.extend needs the sandbox (resource) and a positive integer params.extendSeconds',
      );
    }
    event.extendSeconds = extend.data;
  }
  return { ok: true, value: event };
}
