import { Action, actionSpec, creditsToMilli, ErrorCode, Errors, sandboxCost } from '@tally/contracts';
import type { AdmissionKind } from '@tally/redis';
import type { ShapeSpec } from '../catalog/catalog.repository';

/** How an action is admitted: what it reserves, and which Lua branch decides it. */
export function admissionKind(action: Action): AdmissionKind {
  if (action === 'sandbox.create') return 'create';
  if (action === 'sandbox.extend') return 'extend';
  if (actionSpec(action).meters === 'agent') return 'agent';
  // Any other metered sandbox action would need its own reservation rule: refuse to guess.
  if (actionSpec(action).meters) throw new Error(`no admission rule for metered action ${action}`);
  return 'none';
}

const MAX_SECONDS = 30 * 86_400;

/**
 * Seconds to reserve: sandbox.create's maxLifeSeconds, sandbox.extend's extendSeconds (or
 * seconds). Required, with the same names metering reads from the verified event: an admission
 * metering would refuse to hold must not be admitted either.
 */
export function reservedSeconds(kind: 'create' | 'extend', params: Record<string, unknown>): number {
  const field = kind === 'create' ? 'maxLifeSeconds' : 'extendSeconds';
  const value = kind === 'create' ? params.maxLifeSeconds : (params.extendSeconds ?? params.seconds);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SECONDS) {
    throw Errors.invalidRequest(
      `params.${field}`,
      `params.${field} must be a whole number of seconds from 1 to ${MAX_SECONDS}.`,
    );
  }
  return value;
}

/**
 * Sandbox-ms to hold: `seconds` of wall-clock time at the shape's multiplier, rounded half-up once
 * (the same `sandboxCost` metering uses for runtime), in integers before any Lua sees it.
 */
export const reserveFor = (seconds: number, shape: ShapeSpec): bigint =>
  sandboxCost(BigInt(seconds) * 1000n, shape.pricePerHour);

/** What an agent.run reserves until metering debits it: its fixed cost (metering's ACTION_FIXED_COSTS for agent.run). */
export const agentReserve = (credits: string): bigint => creditsToMilli(credits, 'ADMISSION_AGENT_MINIMUM_CREDITS');

/**
 * What identifies a request under one admission id: a retry with the same id must ask for the
 * same thing, for the same resource, or it is a conflict rather than a replay. Plain text (no
 * hash: this runs per admission), free of ':' (the Lua record separator): keyId and action cannot
 * contain it and the resource id is URI-encoded.
 */
export const fingerprint = (keyId: string, action: Action, reserveMs: bigint, resourceId = ''): string =>
  `${keyId}|${action}|${reserveMs}|${encodeURIComponent(resourceId)}`;

/**
 * When Redis or PostgreSQL cannot answer in time: metered actions fail closed (503), others fail
 * open (admitted, marked degraded), unless configured otherwise per action.
 */
export function failsOpen(action: Action, open: readonly string[], closed: readonly string[]): boolean {
  if (closed.includes(action)) return false;
  if (open.includes(action)) return true;
  return actionSpec(action).meters === undefined;
}

/** Retry-After in whole seconds, at least 1 (HTTP has no sub-second value). */
export const retryAfterSeconds = (waitMs: number): number => Math.max(1, Math.ceil(waitMs / 1000));

export type DenialCode = Extract<
  ErrorCode,
  | 'PLAN_TIER_TOO_LOW'
  | 'CONCURRENT_SANDBOX_LIMIT'
  | 'INSUFFICIENT_SANDBOX_HOURS'
  | 'INSUFFICIENT_AGENT_CREDITS'
  | 'RATE_LIMITED'
>;
