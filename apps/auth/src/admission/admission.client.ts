import { Action, ErrorCode } from '@tally/contracts';

export interface AdmissionRequest {
  orgId: string;
  keyId: string;
  action: Action;
  resource: { type: string; id: string } | null;
  params: Record<string, unknown>;
}

export type AdmissionDecision =
  | { admitted: true; admissionId: string | null }
  | { admitted: false; code: ErrorCode; message: string; retryAfterSeconds?: number };

/**
 * The seam to quota: verify asks it before allowing a metered action (sandbox.create,
 * sandbox.extend, agent.run). Quota's admission (issue 5) plugs in here; until then every
 * metered action is admitted without an admission id.
 */
export interface AdmissionClient {
  admit(request: AdmissionRequest): Promise<AdmissionDecision>;
  /** Drops the provisional hold of an admitted action that was refused after all (no Kafka ack). */
  release(orgId: string, admissionId: string): Promise<unknown>;
}

export const ADMISSION_CLIENT = Symbol('ADMISSION_CLIENT');

export class AdmitAllAdmissionClient implements AdmissionClient {
  async admit(): Promise<AdmissionDecision> {
    return { admitted: true, admissionId: null };
  }

  async release(): Promise<void> {
    // Nothing was held.
  }
}
