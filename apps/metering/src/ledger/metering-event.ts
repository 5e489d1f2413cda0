import { Action } from '@tally/contracts';

/** Where an event came from, and its idempotency key (CloudEvents source + id). */
export interface EventRef {
  source: string;
  id: string;
  topic: string;
  partition: number;
  offset: string;
}

interface Common extends EventRef {
  orgId: string;
  /** The event's own time: packages active then are drawn from, the roll-up hour is taken from it. */
  at: Date;
}

/** A verified action (`auth.action.verified.v1`), with what metering needs from its params. */
export interface ActionEvent extends Common {
  kind: 'action';
  action: Action;
  keyId: string;
  admissionId: string | null;
  /** For sandbox actions: the sandbox the hold belongs to. */
  sandboxId: string | null;
  shape: string | null;
  /** `sandbox.create`: the reservation's lifetime. */
  lifeSeconds: number | null;
  /** `sandbox.extend`: how much longer. */
  extendSeconds: number | null;
}

/** A runtime report (`usage.sandbox.v1`): wall-clock ms since the sandbox's previous report. */
export interface SandboxUsageEvent extends Common {
  kind: 'sandbox';
  type: 'sandbox.started' | 'sandbox.heartbeat' | 'sandbox.stopped';
  sandboxId: string;
  shape: string;
  runtimeMs: bigint;
  sequence: number;
}

/** Agent credits consumed (`usage.agent.v1`), in milli-credits. */
export interface AgentUsageEvent extends Common {
  kind: 'agent';
  runId: string;
  credits: bigint;
  usageKind: string;
}

/** An admission voided (`auth.admission.voided.v1`): its verified event bills nothing, or is undone. */
export interface AdmissionVoidEvent extends Common {
  kind: 'void';
  admissionId: string;
  reason: string;
}

export type MeteringEvent = ActionEvent | SandboxUsageEvent | AgentUsageEvent | AdmissionVoidEvent;

/** The shape a sandbox event names, if any (to check it exists before anything is posted). */
export const shapeOf = (event: MeteringEvent): string | null =>
  event.kind === 'sandbox'
    ? event.shape
    : event.kind === 'action' && event.action === 'sandbox.create'
      ? event.shape
      : null;

/** The sandbox an event is about, if any (its hold is locked with the batch). */
export function sandboxOf(event: MeteringEvent): string | null {
  switch (event.kind) {
    case 'action':
    case 'sandbox':
      return event.sandboxId;
    case 'agent':
    case 'void':
      return null;
  }
}

/**
 * The keys an event is deduplicated by, forever: its CloudEvents (source, id), as written to
 * `LockedOrgs.firstSeen`, and for a runtime report (org, sandbox, sequence): a report re-sent under
 * a new CloudEvents id is the same report. It is posted only if none of them was seen before.
 */
export function dedupeKeys(event: MeteringEvent): string[] {
  const own = `${event.source}|${event.id}`;
  switch (event.kind) {
    case 'sandbox':
      return [own, `report:${event.orgId}|${event.sandboxId}|${event.sequence}`];
    case 'action':
    case 'agent':
    case 'void':
      return [own];
  }
}
