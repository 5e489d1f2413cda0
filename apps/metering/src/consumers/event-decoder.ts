import {
  actionVerifiedEvent,
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
export const CONSUMED_TOPICS = [Topics.actionVerified, Topics.usageSandbox, Topics.usageAgent] as const;

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
  const ref = (source: string, id: string, time: string, orgId: string) => ({
    source,
    id,
    topic,
    partition: 0,
    offset: '0',
    orgId,
    at: new Date(time),
  });

  if (base === Topics.usageSandbox) {
    const parsed = sandboxUsageEvent.safeParse(json);
    if (!parsed.success) return reject('schema', `not a ${base} event: ${describeIssues(parsed.error)}`);
    const { data } = parsed.data;
    if (parsed.data.subject !== data.orgId) return reject('schema', 'subject and data.orgId differ');
    return {
      ok: true,
      value: {
        ...ref(parsed.data.source, parsed.data.id, parsed.data.time, data.orgId),
        kind: 'sandbox',
        type: parsed.data.type,
        sandboxId: data.sandboxId,
        shape: data.shape,
        runtimeMs: data.runtimeMs,
        sequence: data.sequence,
      },
    };
  }
  if (base === Topics.usageAgent) {
    const parsed = agentUsageEvent.safeParse(json);
    if (!parsed.success) return reject('schema', `not a ${base} event: ${describeIssues(parsed.error)}`);
    const { data } = parsed.data;
    if (parsed.data.subject !== data.orgId) return reject('schema', 'subject and data.orgId differ');
    return {
      ok: true,
      value: {
        ...ref(parsed.data.source, parsed.data.id, parsed.data.time, data.orgId),
        kind: 'agent',
        runId: data.runId,
        credits: data.credits,
        usageKind: data.kind,
      },
    };
  }

  const parsed = actionVerifiedEvent.safeParse(json);
  if (!parsed.success) return reject('schema', `not an ${base} event: ${describeIssues(parsed.error)}`);
  const { data } = parsed.data;
  if (parsed.data.subject !== data.orgId) return reject('schema', 'subject and data.orgId differ');
  const params = data.params ?? {};
  const sandboxAction = data.action.startsWith('sandbox.');
  const sandboxId = sandboxAction
    ? ((data.resource?.type === 'sandbox' ? data.resource.id : undefined) ??
      (typeof params.sandboxId === 'string' && params.sandboxId ? params.sandboxId : undefined) ??
      (data.action === 'sandbox.create' ? (data.admissionId ?? `${parsed.data.source}/${parsed.data.id}`) : null))
    : null;
  const event: ActionEvent = {
    ...ref(parsed.data.source, parsed.data.id, parsed.data.time, data.orgId),
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
