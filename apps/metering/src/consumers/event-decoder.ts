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
import {
  ActionEvent,
  AdmissionVoidEvent,
  AgentUsageEvent,
  MeteringEvent,
  SandboxUsageEvent,
} from '../ledger/metering-event';
import { EVENT_BOUNDS } from './event-bounds';

/** The topics metering consumes, without the deployment's prefix. */
export const CONSUMED_TOPICS = [
  Topics.actionVerified,
  Topics.usageSandbox,
  Topics.usageAgent,
  Topics.admissionVoided,
] as const;
type ConsumedTopic = (typeof CONSUMED_TOPICS)[number];

/** The major schema version this build understands (also in the topic names). */
const SUPPORTED_MAJOR = 1;

const positiveSeconds = z.union([
  z.number().int().positive().max(EVENT_BOUNDS.maxSeconds),
  z
    .string()
    .regex(/^\d{1,9}$/)
    .transform(Number)
    .pipe(z.number().int().positive().max(EVENT_BOUNDS.maxSeconds)),
]);

/** C0 controls (NUL included), DEL and C1 controls: never stored (PostgreSQL refuses NUL in text). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const reject = (reasonClass: string, reason: string): Decoded<MeteringEvent> => ({ ok: false, reason, reasonClass });

interface Envelope {
  source: string;
  id: string;
  time: string;
  subject: string;
  data: { orgId: string };
}

type Decoding<T> = { value: T } | { rejected: Decoded<MeteringEvent> };

/**
 * Turns one raw message into a metering event, or says why it is poison: unparseable, an unknown
 * (major) version, the wrong schema, a field beyond its bound (docs/EVENTS.md), an org that the
 * Kafka key, the subject and data.orgId do not all name, or an event time outside the window
 * around the broker timestamp. Pure and synchronous; organizations and shapes are checked against
 * PostgreSQL when the batch is posted.
 */
export function decodeMeteringEvent(message: KafkaMessage, topic: string): Decoded<MeteringEvent> {
  const base = CONSUMED_TOPICS.find((name) => topic.endsWith(name));
  if (!base) return reject('schema', `metering does not consume ${topic}`);
  const json = parseJsonEnvelope(message);
  if ('rejected' in json) return json.rejected;
  const decoded = decodeByTopic(base, json.value, topic);
  if ('rejected' in decoded) return decoded.rejected;
  const event = decoded.value;
  return (
    textBoundsIssue(event) ??
    keyIssue(event, message.key?.toString() ?? null) ??
    timeIssue(event, message.timestamp) ?? { ok: true, value: event }
  );
}

/** The value as a JSON object of a CloudEvents version and major schema version this build reads. */
function parseJsonEnvelope(message: KafkaMessage): Decoding<Record<string, unknown>> {
  let json: unknown;
  try {
    json = JSON.parse(message.value?.toString('utf8') ?? '');
  } catch {
    return { rejected: reject('unparseable', 'value is not JSON') };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { rejected: reject('unparseable', 'value is not a JSON object') };
  }
  const envelope = json as Record<string, unknown>;
  if (envelope.specversion !== undefined && envelope.specversion !== CLOUD_EVENTS_SPEC) {
    return { rejected: reject('version', `unknown CloudEvents specversion ${JSON.stringify(envelope.specversion)}`) };
  }
  const major = dataSchemaMajor(envelope.dataschema);
  if (major !== null && major !== SUPPORTED_MAJOR) {
    const reason = `unknown major schema version v${major} (this consumer reads v${SUPPORTED_MAJOR})`;
    return { rejected: reject('version', reason) };
  }
  return { value: envelope };
}

function decodeByTopic(base: ConsumedTopic, json: unknown, topic: string): Decoding<MeteringEvent> {
  switch (base) {
    case Topics.usageSandbox:
      return decodeSandboxUsage(json, topic);
    case Topics.usageAgent:
      return decodeAgentUsage(json, topic);
    case Topics.actionVerified:
      return decodeVerifiedAction(json, topic);
    case Topics.admissionVoided:
      return decodeVoid(json, topic);
  }
}

/** Validates against the topic's schema; the subject must be data's org. */
function parseWith<T extends Envelope>(
  schema: { safeParse(value: unknown): z.ZodSafeParseResult<T> },
  json: unknown,
  what: string,
): Decoding<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { rejected: reject('schema', `not ${what} event: ${describeIssues(parsed.error)}`) };
  if (parsed.data.subject !== parsed.data.data.orgId) {
    return { rejected: reject('schema', 'subject and data.orgId differ') };
  }
  return { value: parsed.data };
}

/** What every event carries: its idempotency key, its org and its time (where it was read is set later). */
const common = (event: Envelope, topic: string) => ({
  source: event.source,
  id: event.id,
  topic,
  partition: 0,
  offset: '0',
  orgId: event.data.orgId,
  at: new Date(event.time),
});

function decodeSandboxUsage(json: unknown, topic: string): Decoding<SandboxUsageEvent> {
  const parsed = parseWith(sandboxUsageEvent, json, 'a usage.sandbox');
  if ('rejected' in parsed) return parsed;
  const { data, type } = parsed.value;
  if (data.runtimeMs > EVENT_BOUNDS.maxRuntimeMs) {
    return { rejected: reject('bounds', `data.runtimeMs is above ${EVENT_BOUNDS.maxRuntimeMs}`) };
  }
  if (data.sequence > EVENT_BOUNDS.maxSequence) {
    return { rejected: reject('bounds', `data.sequence is above ${EVENT_BOUNDS.maxSequence}`) };
  }
  const { sandboxId, shape, runtimeMs, sequence } = data;
  return { value: { ...common(parsed.value, topic), kind: 'sandbox', type, sandboxId, shape, runtimeMs, sequence } };
}

function decodeAgentUsage(json: unknown, topic: string): Decoding<AgentUsageEvent> {
  const parsed = parseWith(agentUsageEvent, json, 'a usage.agent');
  if ('rejected' in parsed) return parsed;
  const { data } = parsed.value;
  if (data.credits > EVENT_BOUNDS.maxAgentMilliCredits) {
    return { rejected: reject('bounds', `data.credits is above ${EVENT_BOUNDS.maxAgentMilliCredits}`) };
  }
  const event = { ...common(parsed.value, topic), kind: 'agent' as const, runId: data.runId, credits: data.credits };
  return { value: { ...event, usageKind: data.kind } };
}

function decodeVoid(json: unknown, topic: string): Decoding<AdmissionVoidEvent> {
  const parsed = parseWith(admissionVoidedEvent, json, 'an admission.voided');
  if ('rejected' in parsed) return parsed;
  const { admissionId, reason } = parsed.value.data;
  return { value: { ...common(parsed.value, topic), kind: 'void', admissionId, reason } };
}

/**
 * A verified action with what metering needs from its params. A sandbox action's hold is keyed
 * by the sandbox it names (`resource.id`, or `params.sandboxId`): the id its runtime reports
 * carry. A create that names none is poison (two holds for one sandbox otherwise).
 */
function decodeVerifiedAction(json: unknown, topic: string): Decoding<ActionEvent> {
  const parsed = parseWith(actionVerifiedEvent, json, 'an action.verified');
  if ('rejected' in parsed) return parsed;
  const { data } = parsed.value;
  const params = data.params ?? {};
  const named =
    (data.resource?.type === 'sandbox' ? data.resource.id : undefined) ??
    (typeof params.sandboxId === 'string' && params.sandboxId ? params.sandboxId : undefined);
  const event: ActionEvent = {
    ...common(parsed.value, topic),
    kind: 'action',
    action: data.action,
    keyId: data.keyId,
    admissionId: data.admissionId ?? null,
    sandboxId: data.action.startsWith('sandbox.') ? (named ?? null) : null,
    shape: typeof params.shape === 'string' ? params.shape : null,
    lifeSeconds: null,
    extendSeconds: null,
  };
  return withHoldParams(event, params);
}

/** `sandbox.create` needs its sandbox, shape and lifetime; `sandbox.extend` its sandbox and seconds. */
function withHoldParams(event: ActionEvent, params: Record<string, unknown>): Decoding<ActionEvent> {
  if (event.action === 'sandbox.create') {
    const life = positiveSeconds.safeParse(params.maxLifeSeconds);
    if (!event.sandboxId) return { rejected: reject('schema', 'sandbox.create needs resource.id (the sandbox)') };
    if (!event.shape || !life.success) {
      const reason = `sandbox.create needs params.shape and params.maxLifeSeconds (1..${EVENT_BOUNDS.maxSeconds})`;
      return { rejected: reject('schema', reason) };
    }
    event.lifeSeconds = life.data;
  } else if (event.action === 'sandbox.extend') {
    const extend = positiveSeconds.safeParse(params.extendSeconds ?? params.seconds);
    if (!extend.success || !event.sandboxId) {
      const reason = `sandbox.extend needs the sandbox (resource) and params.extendSeconds (1..${EVENT_BOUNDS.maxSeconds})`;
      return { rejected: reject('schema', reason) };
    }
    event.extendSeconds = extend.data;
  }
  return { value: event };
}

/** The stored text fields of an event, with their documented maximum lengths. */
function storedText(event: MeteringEvent): [field: string, value: string | null, max: number][] {
  const envelope: [string, string, number][] = [
    ['source', event.source, EVENT_BOUNDS.maxSourceLength],
    ['id', event.id, EVENT_BOUNDS.maxIdLength],
  ];
  switch (event.kind) {
    case 'action':
      return [
        ...envelope,
        ['data.keyId', event.keyId, EVENT_BOUNDS.maxIdLength],
        ['data.admissionId', event.admissionId, EVENT_BOUNDS.maxIdLength],
        ['resource.id', event.sandboxId, EVENT_BOUNDS.maxIdLength],
        ['params.shape', event.shape, EVENT_BOUNDS.maxShapeLength],
      ];
    case 'sandbox':
      return [
        ...envelope,
        ['data.sandboxId', event.sandboxId, EVENT_BOUNDS.maxIdLength],
        ['data.shape', event.shape, EVENT_BOUNDS.maxShapeLength],
      ];
    case 'agent':
      return [...envelope, ['data.runId', event.runId, EVENT_BOUNDS.maxIdLength]];
    case 'void':
      return [...envelope, ['data.admissionId', event.admissionId, EVENT_BOUNDS.maxIdLength]];
  }
}

/** Every stored text within its length and free of control characters. */
function textBoundsIssue(event: MeteringEvent): Decoded<MeteringEvent> | null {
  for (const [field, value, max] of storedText(event)) {
    if (value === null) continue;
    if (CONTROL.test(value)) return reject('bounds', `${field} contains a control character`);
    if (value.length > max) return reject('bounds', `${field} is longer than ${max} characters`);
  }
  return null;
}

/** Partitions are owned by org: the Kafka key must name the event's org. */
function keyIssue(event: MeteringEvent, key: string | null): Decoded<MeteringEvent> | null {
  if (key === event.orgId) return null;
  return reject('schema', `the Kafka key ${JSON.stringify(key)} is not the event's org (subject and data.orgId)`);
}

/** The event's time within the documented window around the broker's timestamp of the message. */
function timeIssue(event: MeteringEvent, timestamp: string | undefined): Decoded<MeteringEvent> | null {
  const broker = Number(timestamp);
  if (!timestamp || !Number.isFinite(broker) || broker <= 0) return null;
  const at = event.at.getTime();
  if (at < broker - EVENT_BOUNDS.maxAgeMs || at > broker + EVENT_BOUNDS.maxAheadMs) {
    const window = `${EVENT_BOUNDS.maxAgeMs / 86_400_000} days before to ${EVENT_BOUNDS.maxAheadMs / 60_000} minutes after`;
    return reject('bounds', `time is outside ${window} the broker timestamp`);
  }
  return null;
}
