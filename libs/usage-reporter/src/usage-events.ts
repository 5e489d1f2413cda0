import {
  agentUsageEvent,
  agentUsageKinds,
  cloudEvent,
  describeIssues,
  sandboxUsageEvent,
  Topics,
  UsageEventTypes,
} from '@tally/contracts';
import { createHash } from 'node:crypto';

export type SandboxReportType =
  | typeof UsageEventTypes.sandboxStarted
  | typeof UsageEventTypes.sandboxHeartbeat
  | typeof UsageEventTypes.sandboxStopped;
export type AgentUsageKind = (typeof agentUsageKinds)[number];

/** One sandbox runtime report, as the runtime knows it. */
export interface SandboxReport {
  orgId: string;
  sandboxId: string;
  shape: string;
  /** Wall-clock milliseconds the sandbox ran since its previous report (an integer). */
  runtimeMs: number;
  /** Position in the sandbox's reports (0 = started); the reporter counts when omitted. */
  sequence: number;
}

/** Agent credits one run consumed in one step. */
export interface AgentReport {
  orgId: string;
  runId: string;
  /** Milli-credits (1 credit = 1,000), an integer. */
  milliCredits: number;
  kind: AgentUsageKind;
  /** The step of the run this consumption belongs to: the same step reported again is a duplicate. */
  step: number | string;
}

/** A validated CloudEvent ready for Kafka: its topic, key (the org id) and JSON value. */
export interface BuiltUsageEvent {
  id: string;
  topic: string;
  key: string;
  value: string;
}

/** A report the contract refuses (docs/ARCHITECTURE.md §4 bounds), with the field named; nothing was queued. */
export class UsageReportInvalid extends Error {
  constructor(readonly issues: string) {
    super(`usage report refused by the contract: ${issues}`);
    this.name = 'UsageReportInvalid';
  }
}

/**
 * The CloudEvents id of a report: a digest of what identifies it (never of the time it was sent),
 * so the same report sent twice carries the same id + source and metering counts it once.
 */
export function usageEventId(type: string, ...identity: (string | number)[]): string {
  const digest = createHash('sha256')
    .update([type, ...identity].join('\u0000'))
    .digest('hex');
  return `${type}-${digest.slice(0, 40)}`;
}

function validated(
  schema: typeof sandboxUsageEvent | typeof agentUsageEvent,
  topic: string,
  event: ReturnType<typeof cloudEvent>,
): BuiltUsageEvent {
  const checked = schema.safeParse(event);
  if (!checked.success) throw new UsageReportInvalid(describeIssues(checked.error));
  return { id: event.id, topic, key: event.subject, value: JSON.stringify(event) };
}

const integer = (value: number, field: string) => {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new UsageReportInvalid(`data.${field}: must be a non-negative integer, got ${String(value)}`);
  return value;
};

export function sandboxEvent(
  source: string,
  topicPrefix: string,
  type: SandboxReportType,
  report: SandboxReport,
  time: Date,
): BuiltUsageEvent {
  const event = cloudEvent({
    id: usageEventId(type, report.orgId, report.sandboxId, report.sequence),
    source,
    type,
    subject: report.orgId,
    time,
    data: {
      orgId: report.orgId,
      sandboxId: report.sandboxId,
      shape: report.shape,
      runtimeMs: integer(report.runtimeMs, 'runtimeMs'),
      sequence: integer(report.sequence, 'sequence'),
    },
  });
  return validated(sandboxUsageEvent, `${topicPrefix}${Topics.usageSandbox}`, event);
}

export function agentEvent(source: string, topicPrefix: string, report: AgentReport, time: Date): BuiltUsageEvent {
  const event = cloudEvent({
    id: usageEventId(UsageEventTypes.agentConsumed, report.orgId, report.runId, String(report.step)),
    source,
    type: UsageEventTypes.agentConsumed,
    subject: report.orgId,
    time,
    data: {
      orgId: report.orgId,
      runId: report.runId,
      credits: integer(report.milliCredits, 'credits'),
      kind: report.kind,
    },
  });
  return validated(agentUsageEvent, `${topicPrefix}${Topics.usageAgent}`, event);
}
