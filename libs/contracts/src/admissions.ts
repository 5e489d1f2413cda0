import { createHash } from 'node:crypto';
import { z } from 'zod';
import { cloudEvent, envelope, EventTypes, orgIdSchema } from './events';

/**
 * An admission's identity, deadline and void: what auth, quota, metering and the gateway's guard
 * agree on so that every admission ends as exactly one of settled | voided | expired
 * (docs/FATES.md).
 */

/** Admission ids (quota's hold ids): letters, digits, `_ . -`, at most 128. */
export const ADMISSION_ID_PATTERN = /^[\w.-]{1,128}$/;
export const admissionIdSchema = z.string().regex(ADMISSION_ID_PATTERN, 'must be 1-128 letters, digits, _ . or -');

/** A gateway's idempotency key: 1-128 printable ASCII characters (a UUID, a ULID, a request hash). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

const digest = (orgId: string, idempotencyKey: string): string =>
  createHash('sha256').update(`${orgId}\n${idempotencyKey}`).digest('hex').slice(0, 40);

/** The admission id of (org, idempotency key): every retry of one request names the same admission. */
export const admissionIdFor = (orgId: string, idempotencyKey: string): string =>
  `idem-${digest(orgId, idempotencyKey)}`;

/** The id of the verified event of (org, idempotency key): a retry republishes the same event (deduplicated). */
export const verifiedEventIdFor = (orgId: string, idempotencyKey: string): string =>
  `verified-${digest(orgId, idempotencyKey)}`;

/**
 * The caller's deadline, as the milliseconds it still waits when it sends the request (a
 * remaining budget, not a wall-clock instant: no clock skew between hosts).
 */
export const DEADLINE_HEADER = 'x-deadline-ms';
export const MAX_DEADLINE_MS = 60_000;

/** Parses the deadline header into an absolute instant (ms since epoch); undefined when absent or invalid. */
export function deadlineFrom(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || !/^\d{1,6}$/.test(raw)) return undefined;
  return now + Math.min(Number(raw), MAX_DEADLINE_MS);
}

/** The header value for a deadline at `deadline` (ms since epoch): what is left of it, at least 0. */
export const deadlineHeader = (deadline: number, now = Date.now()): string =>
  String(Math.max(0, Math.min(MAX_DEADLINE_MS, Math.floor(deadline - now))));

/** Auth's defaults, shared with the guard so its timeout is derived from them, never chosen apart. */
export const AuthTimeouts = {
  /** A metered action waits at most this long for Kafka's acknowledgement. */
  eventAckMs: 1_500,
  /** Auth waits at most this long for quota's admission. */
  quotaMs: 150,
  /** Network and scheduling between the guard and auth, both ways. */
  marginMs: 250,
} as const;

/** The longest auth may take to answer a metered verify: the guard waits this long. */
export const authWorstCaseMs = (eventAckMs: number = AuthTimeouts.eventAckMs, quotaMs: number = AuthTimeouts.quotaMs) =>
  eventAckMs + quotaMs + AuthTimeouts.marginMs;

// ---- auth.admission.voided.v1 ----

export const VoidReasons = {
  /** Auth answered non-200 after the verified event may have been written (no ack, a failed split batch). */
  refusedAfterPublish: 'refused_after_publish',
  /** The caller's deadline passed while the verified event was in flight. */
  callerGaveUp: 'caller_gave_up',
  /** DELETE /v1/admissions/:id: the upstream could not start what was admitted. */
  released: 'released',
} as const;
export type VoidReason = (typeof VoidReasons)[keyof typeof VoidReasons];

export const admissionVoidedData = z.object({
  orgId: orgIdSchema,
  admissionId: admissionIdSchema,
  reason: z.enum([VoidReasons.refusedAfterPublish, VoidReasons.callerGaveUp, VoidReasons.released]),
});
export type AdmissionVoidedData = z.infer<typeof admissionVoidedData>;

export const admissionVoidedEvent = envelope(EventTypes.admissionVoided, admissionVoidedData).extend({
  dataschema: z.string().optional(),
});
export type AdmissionVoidedEvent = z.infer<typeof admissionVoidedEvent>;

/** One void per (admission, reason): a re-sent void is the same event (deduplicated by metering). */
export const voidEventId = (admissionId: string, reason: VoidReason): string => `void-${reason}-${admissionId}`;

/** The `admission.voided` CloudEvent (key and subject: the org). */
export const admissionVoided = (source: string, data: AdmissionVoidedData) =>
  cloudEvent({
    id: voidEventId(data.admissionId, data.reason),
    source,
    type: EventTypes.admissionVoided,
    subject: data.orgId,
    data,
  });
