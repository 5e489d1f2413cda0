import { z } from 'zod';
import { ALL_ACTIONS, Action } from './actions';
import { ORG_ID_PATTERN, ORG_ID_RULE } from './org-id';

/**
 * CloudEvents 1.0, structured JSON mode (docs/ARCHITECTURE.md §4). `source` + `id` is the idempotency key;
 * `subject` (and the Kafka message key) is the organization id.
 */
export const CLOUD_EVENTS_SPEC = '1.0';

export const EventTypes = {
  actionVerified: 'action.verified',
  actionDenied: 'action.denied',
  ledgerPosted: 'ledger.posted',
  admissionVoided: 'admission.voided',
} as const;

export const orgIdSchema = z.string().regex(ORG_ID_PATTERN, ORG_ID_RULE);

/** The CloudEvents envelope of `type` around `data` (every topic's schema). */
export const envelope = <T extends z.ZodTypeAny>(type: string, data: T) =>
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

// ---- Usage, ledger and alert events (metering). Appended; the envelope above is shared. ----

/** Event types of the usage, ledger and alert topics (`EventTypes` above covers auth). */
export const UsageEventTypes = {
  sandboxStarted: 'sandbox.started',
  sandboxHeartbeat: 'sandbox.heartbeat',
  sandboxStopped: 'sandbox.stopped',
  agentConsumed: 'agent.consumed',
  balanceThreshold: 'balance.threshold',
  balanceDepleted: 'balance.depleted',
  /** A depleted balance kind has something available again (a top-up): resolves balance.depleted. */
  balanceReplenished: 'balance.replenished',
  balanceForecast: 'balance.forecast',
} as const;

/** A non-negative integer unit count, as a JSON number (safe integer) or an integer string. */
const unitCount = z
  .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,18}$/)])
  .transform((value) => BigInt(value));

/** The major version a CloudEvents `dataschema` names, e.g. `.../usage.sandbox/v2` → 2; null if none. */
export function dataSchemaMajor(dataschema: unknown): number | null {
  if (typeof dataschema !== 'string') return null;
  const match = /\/v(\d+)(?:\.\d+)*\/?$/.exec(dataschema);
  return match ? Number(match[1]) : null;
}

export const sandboxUsageData = z.object({
  orgId: orgIdSchema,
  sandboxId: z.string().min(1).max(200),
  shape: z.string().min(1).max(64),
  /** Wall-clock runtime since the previous report of this sandbox, in milliseconds. */
  runtimeMs: unitCount,
  sequence: z.number().int().min(0),
});
const sandboxUsageTypes = [
  UsageEventTypes.sandboxStarted,
  UsageEventTypes.sandboxHeartbeat,
  UsageEventTypes.sandboxStopped,
] as const;
export const sandboxUsageEvent = envelope(UsageEventTypes.sandboxHeartbeat, sandboxUsageData).extend({
  type: z.enum(sandboxUsageTypes),
  dataschema: z.string().optional(),
});
export type SandboxUsageEvent = z.infer<typeof sandboxUsageEvent>;

export const agentUsageKinds = ['mcp_action', 'inference', 'tool'] as const;
export const agentUsageData = z.object({
  orgId: orgIdSchema,
  runId: z.string().min(1).max(200),
  /** Milli-credits consumed. */
  credits: unitCount,
  kind: z.enum(agentUsageKinds),
});
export const agentUsageEvent = envelope(UsageEventTypes.agentConsumed, agentUsageData).extend({
  dataschema: z.string().optional(),
});
export type AgentUsageEvent = z.infer<typeof agentUsageEvent>;

/** `metering.ledger.v1`: one ledger entry as written (amounts signed integer strings). */
export const ledgerPostedData = z.object({
  seq: z.string(),
  orgId: orgIdSchema,
  packageId: z.string().nullable(),
  kind: z.enum(['sandbox', 'agent']),
  /** `reversal`: a voided admission's debit or overage undone (positive, same package). */
  entryType: z.enum(['grant', 'debit', 'forfeit', 'overage', 'reversal']),
  amount: z.string().regex(/^-?\d+$/),
  eventSource: z.string(),
  eventId: z.string(),
  action: z.string().nullable(),
  keyId: z.string().nullable(),
});
export const ledgerPostedEvent = envelope(EventTypes.ledgerPosted, ledgerPostedData);
export type LedgerPostedEvent = z.infer<typeof ledgerPostedEvent>;

/** `metering.alerts.v1`: balance alerts; `remaining` in integer units of `kind`. */
export const balanceAlertData = z.object({
  orgId: orgIdSchema,
  kind: z.enum(['sandbox', 'agent']),
  threshold: z.string().nullable(),
  remaining: z.string().regex(/^-?\d+$/),
  /** Work that ran without balance (overage), for `balance.depleted`. */
  shortfall: z.string().regex(/^\d+$/).optional(),
  forecastDepletionAt: z.iso.datetime({ offset: true }).nullable(),
});
export const balanceAlertEvent = envelope(UsageEventTypes.balanceDepleted, balanceAlertData).extend({
  type: z.enum([
    UsageEventTypes.balanceThreshold,
    UsageEventTypes.balanceDepleted,
    UsageEventTypes.balanceReplenished,
    UsageEventTypes.balanceForecast,
  ]),
});
export type BalanceAlertEvent = z.infer<typeof balanceAlertEvent>;

// ---- Organizations (platform.org.v1). ----

/** The one event type of `platform.org.v1`: the platform asks metering to change an organization. */
export const OrgEventTypes = { orgRequested: 'org.requested' } as const;

export const ORG_OPERATIONS = ['create', 'rename', 'change_plan', 'suspend', 'resume'] as const;
export type OrgOperation = (typeof ORG_OPERATIONS)[number];

/** A display name: 1..200 characters, none of them a control character. */
export const orgNameSchema = z
  .string()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
/** A plan name as the catalog spells it. */
export const planNameSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,49}$/, 'must be a plan name of the catalog');

export const orgRequestedData = z
  .object({
    orgId: orgIdSchema,
    operation: z.enum(ORG_OPERATIONS),
    /** create (required), rename (required). */
    name: orgNameSchema.optional(),
    /** create (default free), change_plan (required). */
    plan: planNameSchema.optional(),
    /** suspend: why, kept with the organization. */
    reason: z.string().max(500).optional(),
  })
  .superRefine((data, ctx) => {
    const needs: Partial<Record<OrgOperation, 'name' | 'plan'>> = {
      create: 'name',
      rename: 'name',
      change_plan: 'plan',
    };
    const field = needs[data.operation];
    if (field && data[field] === undefined)
      ctx.addIssue({ code: 'custom', path: [field], message: `is required for ${data.operation}` });
  });
export const orgRequestedEvent = envelope(OrgEventTypes.orgRequested, orgRequestedData);
export type OrgRequestedEvent = z.infer<typeof orgRequestedEvent>;
export type OrgRequest = z.infer<typeof orgRequestedData>;
