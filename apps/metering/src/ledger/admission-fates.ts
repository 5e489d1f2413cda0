import { ActionEvent, AdmissionVoidEvent } from './metering-event';
import type { LedgerLine, PostingBook } from './posting';

export type FateKind = 'settled' | 'voided';

/** An admission's fate as posting sees and changes it (one row of admission_fates). */
export interface AdmissionFate {
  orgId: string;
  admissionId: string;
  fate: FateKind;
  /** The verified event that settled it; null for a void that came first. */
  eventSource: string | null;
  eventId: string | null;
  action: string | null;
  sandboxId: string | null;
  /** Sandbox-ms it added to its sandbox's hold (create, extend). */
  reservedMs: bigint;
  voidReason: string | null;
  /** Changed by this batch: to be written. */
  dirty: boolean;
}

export const fateKey = (orgId: string, admissionId: string) => `${orgId}|${admissionId}`;
export const eventKey = (source: string, id: string) => `${source}|${id}`;

/** The (org, admission) pairs a batch's verified actions and voids name: their fates are locked with it. */
export function admissionsNamed(events: { kind: string; orgId: string; admissionId?: string | null }[]) {
  const pairs = new Map<string, { orgId: string; admissionId: string }>();
  for (const event of events) {
    if ((event.kind === 'action' || event.kind === 'void') && event.admissionId) {
      pairs.set(fateKey(event.orgId, event.admissionId), { orgId: event.orgId, admissionId: event.admissionId });
    }
  }
  return [...pairs.values()];
}

/**
 * A verified action posts only if its admission has no fate yet: a voided admission bills
 * nothing (the void came first), and one already settled by another event is not billed twice.
 */
export function admissionOpen(book: PostingBook, event: ActionEvent): boolean {
  if (!event.admissionId) return true;
  return !book.ctx.fates?.has(fateKey(event.orgId, event.admissionId));
}

/**
 * Records what the posted action did, so that a later void can undo exactly that: `reservedMs`
 * is what it added to its sandbox's hold (nothing when the sandbox was already held or gone).
 */
export function settleAdmission(book: PostingBook, event: ActionEvent, reservedMs: bigint): void {
  if (!event.admissionId || !book.ctx.fates) return;
  book.ctx.fates.set(fateKey(event.orgId, event.admissionId), {
    orgId: event.orgId,
    admissionId: event.admissionId,
    fate: 'settled',
    eventSource: event.source,
    eventId: event.id,
    action: event.action,
    sandboxId: event.sandboxId,
    reservedMs,
    voidReason: null,
    dirty: true,
  });
}

/**
 * `admission.voided`: the first void of an admission decides. Before its verified event it
 * tombstones the admission (that event then bills nothing); after, it undoes what the event did:
 * a create's hold is released, an extend's reservation taken back, a fixed debit reversed by
 * ledger entries (append-only: a reversal is an entry). A second void changes nothing.
 */
export function postVoid(book: PostingBook, event: AdmissionVoidEvent): void {
  const fates = book.ctx.fates;
  if (!fates) return;
  const key = fateKey(event.orgId, event.admissionId);
  const fate = fates.get(key);
  if (fate?.fate === 'voided') return;
  fates.set(key, {
    ...(fate ?? tombstone(event)),
    fate: 'voided',
    voidReason: event.reason,
    dirty: true,
  });
  if (fate) undoSettlement(book, fate, event);
}

const tombstone = (event: AdmissionVoidEvent): AdmissionFate => ({
  orgId: event.orgId,
  admissionId: event.admissionId,
  fate: 'voided',
  eventSource: null,
  eventId: null,
  action: null,
  sandboxId: null,
  reservedMs: 0n,
  voidReason: event.reason,
  dirty: true,
});

function undoSettlement(book: PostingBook, fate: AdmissionFate, event: AdmissionVoidEvent): void {
  const hold = fate.sandboxId ? book.ctx.holds.get(`${fate.orgId}|${fate.sandboxId}`) : undefined;
  // Only the admission that placed the hold releases it: a second create of a live sandbox placed nothing.
  if (hold && fate.action === 'sandbox.create' && hold.admissionId === fate.admissionId) book.release(hold, event.at);
  if (hold && fate.action === 'sandbox.extend' && hold.status === 'active') {
    hold.reservedMs = hold.reservedMs > fate.reservedMs ? hold.reservedMs - fate.reservedMs : 0n;
    hold.dirty = true;
  }
  if (fate.eventSource && fate.eventId) {
    for (const line of settledLines(book, fate.eventSource, fate.eventId)) book.reverse(line, event);
  }
}

/** The debit and overage lines the settling event wrote: earlier batches' (loaded) and this batch's. */
function settledLines(book: PostingBook, source: string, id: string): LedgerLine[] {
  const earlier = book.ctx.settledLines?.get(eventKey(source, id)) ?? [];
  const now = book.entries.filter((line) => line.eventSource === source && line.eventId === id);
  return [...earlier, ...now].filter((line) => line.entryType === 'debit' || line.entryType === 'overage');
}
