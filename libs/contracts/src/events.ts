import { z } from 'zod';
import { ALL_ACTIONS, Action } from './actions';

/**
 * CloudEvents 1.0, structured JSON mode (DESIGN §4). `source` + `id` is the idempotency key;
 * `subject` (and the Kafka message key) is the organization id.
 */
export const CLOUD_EVENTS_SPEC = '1.0';

export const EventTypes = {
  actionVerified: 'action.verified',
  actionDenied: 'action.denied',
  ledgerPosted: 'ledger.posted',
} as const;

export const orgIdSchema = z.string().regex(/^ORG-[0-9A-HJKMNP-TV-Z]{26}$/, 'must look like ORG-<ulid>');

const envelope = <T extends z.ZodTypeAny>(type: string, data: T) =>
  z.object({
    specversion: z.literal(CLOUD_EVENTS_SPEC),
    id: z.string().min(1).max(200),
    source: z.string().min(1).max(500),
    type: z.literal(type),
    subject: orgIdSchema,
    time: z.iso.datetime({ offset: true }),
    datacontenttype: z.literal('application/json').optional(),
    data,
  });

export const actionVerifiedData = z.object({
  orgId: orgIdSchema,
  keyId: z.string().min(1),
  userId: z.string().min(1),
  action: z.enum(ALL_ACTIONS as [Action, ...Action[]]),
  resource: z.object({ type: z.string(), id: z.string() }).nullable().optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  admissionId: z.string().nullable().optional(),
});

export const actionVerifiedEvent = envelope(EventTypes.actionVerified, actionVerifiedData);
export type ActionVerifiedEvent = z.infer<typeof actionVerifiedEvent>;

export const actionDeniedData = z.object({
  orgId: orgIdSchema.nullable().optional(),
  keyId: z.string().nullable().optional(),
  action: z.string(),
  code: z.string(),
  sourceAddress: z.string().nullable().optional(),
});
export const actionDeniedEvent = envelope(EventTypes.actionDenied, actionDeniedData).extend({
  // A denial may come before the org is known (malformed key): the subject is then "unknown".
  subject: z.string(),
});
export type ActionDeniedEvent = z.infer<typeof actionDeniedEvent>;

export interface CloudEventInput<D> {
  id: string;
  source: string;
  type: string;
  subject: string;
  data: D;
  time?: Date;
}

export function cloudEvent<D>(input: CloudEventInput<D>) {
  return {
    specversion: CLOUD_EVENTS_SPEC,
    id: input.id,
    source: input.source,
    type: input.type,
    subject: input.subject,
    time: (input.time ?? new Date()).toISOString(),
    datacontenttype: 'application/json' as const,
    data: input.data,
  };
}

/** Why an event could not be accepted, in a sentence fit for a dead-letter header. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
