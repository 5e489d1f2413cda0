import { Action, ErrorCode } from '@tally/contracts';

export interface AdmissionRequest {
  orgId: string;
  keyId: string;
  action: Action;
  resource: { type: string; id: string } | null;
  params: Record<string, unknown>;
  /** The admission's id (derived from the idempotency key when the gateway sent one). */
  admissionId?: string;
  /** When the caller gives up (ms since epoch): nothing is held past it. */
  deadline?: number;
}

export type AdmissionDecision =
  | { admitted: true; admissionId: string | null }
  | { admitted: false; code: ErrorCode; message: string; retryAfterSeconds?: number };

/**
 * The seam to quota: verify asks it before allowing a metered action (sandbox.create,
 * sandbox.extend, agent.run). Without QUOTA_URL every metered action is admitted, under the
 * admission id auth chose (so that a void can still name it).
 */
export interface AdmissionClient {
  admit(request: AdmissionRequest): Promise<AdmissionDecision>;
  /** Drops the provisional hold of an admitted action that was refused after all (no Kafka ack). */
  release(orgId: string, admissionId: string): Promise<unknown>;
}

export const ADMISSION_CLIENT = Symbol('ADMISSION_CLIENT');

export class AdmitAllAdmissionClient implements AdmissionClient {
  async admit(request: AdmissionRequest): Promise<AdmissionDecision> {
    return { admitted: true, admissionId: request.admissionId ?? null };
  }

  async release(): Promise<void> {
    // Nothing was held.
  }
}
