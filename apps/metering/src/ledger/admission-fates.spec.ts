import { AdmissionFate } from './admission-fates';
import { PackageBalance } from './burn-down';
import { ActionEvent, AdmissionVoidEvent } from './metering-event';
import { HoldState, LedgerLine, postEvents, PostingContext } from './posting';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';
const T0 = new Date('2026-06-01T00:00:00Z');
let seq = 0;
const ref = (at = T0) => ({ source: 's', id: `e${seq++}`, topic: 't', partition: 0, offset: '0', orgId: ORG, at });

const context = (agentMc: bigint): PostingContext => ({
  packages: new Map<string, PackageBalance[]>([
    [
      ORG,
      [
        {
          id: 'p',
          priority: 0,
          notBefore: null,
          notAfter: null,
          grantedAt: T0,
          remaining: { sandbox: 10n ** 12n, agent: agentMc },
        },
      ],
    ],
  ]),
  holds: new Map<string, HoldState>(),
  prices: new Map([['small', '1']]),
  fixedCosts: new Map([['agent.run', 1_000n]]),
  holdGraceMs: 60_000,
  fates: new Map<string, AdmissionFate>(),
  settledLines: new Map<string, LedgerLine[]>(),
});

const action = (admissionId: string, extra: Partial<ActionEvent> = {}): ActionEvent => ({
  ...ref(),
  kind: 'action',
  action: 'agent.run',
  keyId: 'k',
  admissionId,
  sandboxId: null,
  shape: null,
  lifeSeconds: null,
  extendSeconds: null,
  ...extra,
});
const create = (admissionId: string, sandboxId: string) =>
  action(admissionId, { action: 'sandbox.create', sandboxId, shape: 'small', lifeSeconds: 3600 });
const voided = (admissionId: string): AdmissionVoidEvent => ({
  ...ref(),
  kind: 'void',
  admissionId,
  reason: 'released',
});
/** What LedgerService loads for the next batch: the lines this one wrote, by event. */
const committed = (ctx: PostingContext, entries: LedgerLine[]) => {
  for (const line of entries) {
    const key = `${line.eventSource}|${line.eventId}`;
    ctx.settledLines!.set(key, [...(ctx.settledLines!.get(key) ?? []), line]);
  }
};
const agentLeft = (ctx: PostingContext) => ctx.packages.get(ORG)![0].remaining.agent;

describe('admission fates in posting', () => {
  it('a void that comes first tombstones the admission: its verified event bills nothing', () => {
    const ctx = context(5_000n);
    const result = postEvents([voided('a1'), action('a1'), create('a2', 'sbx'), voided('a2')], ctx);
    expect(result.entries.filter((line) => line.amount !== 0n && line.eventId.startsWith('e'))).toEqual([]);
    expect(agentLeft(ctx)).toBe(5_000n);
    expect(ctx.fates!.get(`${ORG}|a1`)).toMatchObject({ fate: 'voided', eventId: null });
    expect(ctx.holds.get(`${ORG}|sbx`)).toMatchObject({ status: 'released' });
  });

  it('a void after the debit reverses it with an entry (append-only), and the package gets it back', () => {
    const ctx = context(5_000n);
    committed(ctx, postEvents([action('a1')], ctx).entries);
    expect(agentLeft(ctx)).toBe(4_000n);
    const result = postEvents([voided('a1')], ctx);
    expect(result.entries).toEqual([
      expect.objectContaining({ entryType: 'reversal', packageId: 'p', kind: 'agent', amount: 1_000n }),
    ]);
    expect(agentLeft(ctx)).toBe(5_000n);
    expect(ctx.fates!.get(`${ORG}|a1`)).toMatchObject({ fate: 'voided', voidReason: 'released' });
  });

  it('reverses an overage as well as the draws, and a second void changes nothing', () => {
    const ctx = context(400n);
    const debited = postEvents([action('a1')], ctx);
    expect(debited.entries.map((line) => [line.entryType, line.amount])).toEqual([
      ['debit', -400n],
      ['overage', -600n],
    ]);
    committed(ctx, debited.entries);
    const reversed = postEvents([voided('a1'), voided('a1')], ctx);
    expect(reversed.entries.map((line) => [line.entryType, line.packageId, line.amount])).toEqual([
      ['reversal', 'p', 400n],
      ['reversal', null, 600n],
    ]);
    expect(agentLeft(ctx)).toBe(400n);
  });

  it("releases a settled create's durable hold", () => {
    const ctx = context(0n);
    postEvents([create('a1', 'sbx')], ctx);
    expect(ctx.holds.get(`${ORG}|sbx`)).toMatchObject({ status: 'active', reservedMs: 3_600_000n });
    postEvents([voided('a1')], ctx);
    expect(ctx.holds.get(`${ORG}|sbx`)).toMatchObject({ status: 'released' });
  });

  it('a second create naming a live sandbox reserves nothing, and voiding it leaves the live hold alone', () => {
    const ctx = context(0n);
    postEvents([create('a1', 'sbx'), create('a2', 'sbx')], ctx);
    expect(ctx.fates!.get(`${ORG}|a2`)).toMatchObject({ fate: 'settled', reservedMs: 0n });
    postEvents([voided('a2')], ctx);
    expect(ctx.holds.get(`${ORG}|sbx`)).toMatchObject({ status: 'active', reservedMs: 3_600_000n });
  });

  it('an extend of a sandbox already gone reserves nothing', () => {
    const ctx = context(0n);
    postEvents(
      [create('a1', 'sbx'), { ...action('d'), action: 'sandbox.delete', sandboxId: 'sbx', admissionId: null }],
      ctx,
    );
    postEvents([action('a3', { action: 'sandbox.extend', sandboxId: 'sbx', extendSeconds: 600 })], ctx);
    expect(ctx.fates!.get(`${ORG}|a3`)).toMatchObject({ fate: 'settled', reservedMs: 0n });
  });

  it('bills an admission once, whatever number of verified events name it', () => {
    const ctx = context(5_000n);
    postEvents([action('a1'), action('a1')], ctx);
    expect(agentLeft(ctx)).toBe(4_000n);
  });
});
