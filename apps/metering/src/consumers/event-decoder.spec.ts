import { cloudEvent } from '@tally/contracts';
import { KafkaMessage } from 'kafkajs';
import { decodeMeteringEvent } from './event-decoder';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';
const message = (value: unknown, key: string | null = ORG, timestamp = String(Date.now())): KafkaMessage =>
  ({
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    offset: '0',
    timestamp,
  }) as KafkaMessage;
const usage = (data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  ...cloudEvent({
    id: 'e1',
    source: '//runtime',
    type: 'sandbox.heartbeat',
    subject: ORG,
    data: { orgId: ORG, sandboxId: 's1', shape: 'small', runtimeMs: 1000, sequence: 1, ...data },
  }),
  ...extra,
});
const verified = (action: string, params: Record<string, unknown>, resource: unknown = null) =>
  cloudEvent({
    id: 'v1',
    source: '//tally/auth',
    type: 'action.verified',
    subject: ORG,
    data: { orgId: ORG, keyId: 'k', userId: 'u', action, resource, params, admissionId: 'adm-1' },
  });

describe('decodeMeteringEvent', () => {
  it('decodes a sandbox runtime report with integer units', () => {
    const decoded = decodeMeteringEvent(message(usage({ runtimeMs: '2678400000' })), 'p.usage.sandbox.v1');
    expect(decoded).toMatchObject({ ok: true, value: { kind: 'sandbox', runtimeMs: 2_678_400_000n } });
  });

  it.each([
    ['not json', 'unparseable'],
    ['[1,2]', 'unparseable'],
    [usage({}, { specversion: '2.0' }), 'version'],
    [usage({}, { dataschema: 'https://x/usage.sandbox/v2' }), 'version'],
    [usage({ runtimeMs: 1.5 }), 'schema'],
    [usage({ orgId: 'ORG-0123456789ABCDEFGHJKMNPQRT' }), 'schema'],
    [usage({}, { type: 'sandbox.exploded' }), 'schema'],
    [usage({ runtimeMs: '2678400001' }), 'bounds'],
    [usage({ sequence: 2 ** 31 }), 'bounds'],
    [usage({ sandboxId: 'a\u0000b' }), 'bounds'],
    [usage({ shape: 's\u001fmall' }), 'bounds'],
    [usage({}, { id: 'e\u0085' }), 'bounds'],
  ])('rejects %j as %s', (value, reasonClass) => {
    const decoded = decodeMeteringEvent(message(value), 'p.usage.sandbox.v1');
    expect(decoded).toMatchObject({ ok: false, reasonClass });
  });

  it('needs the Kafka key, the subject and data.orgId to name one org', () => {
    const other = 'ORG-0123456789ABCDEFGHJKMNPQRT';
    expect(decodeMeteringEvent(message(usage(), other), 'usage.sandbox.v1')).toMatchObject({ ok: false });
    expect(decodeMeteringEvent(message(usage(), null), 'usage.sandbox.v1')).toMatchObject({ ok: false });
    const reason = (decodeMeteringEvent(message(usage(), other), 'usage.sandbox.v1') as { reason: string }).reason;
    expect(reason).toMatch(/Kafka key/);
  });

  it('needs the event time within 35 days before to 5 minutes after the broker timestamp', () => {
    const at = (time: string) =>
      decodeMeteringEvent(
        message(usage({}, { time }), ORG, String(Date.parse('2026-06-10T00:00:00Z'))),
        'usage.sandbox.v1',
      );
    expect(at('2026-05-07T00:00:00Z').ok).toBe(true);
    expect(at('2026-05-05T00:00:00Z')).toMatchObject({ ok: false, reasonClass: 'bounds' });
    expect(at('2026-06-10T00:04:59Z').ok).toBe(true);
    expect(at('2026-06-10T00:05:01Z')).toMatchObject({ ok: false, reasonClass: 'bounds' });
  });

  it('bounds agent credits at one billion credits', () => {
    const agent = (credits: string) =>
      cloudEvent({
        id: 'a1',
        source: '//r',
        type: 'agent.consumed',
        subject: ORG,
        data: { orgId: ORG, runId: 'r', credits, kind: 'tool' },
      });
    expect(decodeMeteringEvent(message(agent('1000000000000')), 'usage.agent.v1').ok).toBe(true);
    expect(decodeMeteringEvent(message(agent('1000000000001')), 'usage.agent.v1')).toMatchObject({
      reasonClass: 'bounds',
    });
  });

  it('accepts a dataschema of the supported major version', () => {
    const decoded = decodeMeteringEvent(
      message(usage({}, { dataschema: 'https://x/usage.sandbox/v1.3' })),
      'usage.sandbox.v1',
    );
    expect(decoded.ok).toBe(true);
  });

  it('needs the sandbox, a shape and a lifetime to hold for a sandbox.create', () => {
    const topic = 'auth.action.verified.v1';
    const sandbox = { type: 'sandbox', id: 'sb' };
    expect(decodeMeteringEvent(message(verified('sandbox.create', { shape: 'small' }, sandbox)), topic)).toMatchObject({
      ok: false,
      reasonClass: 'schema',
    });
    // Without its sandbox it would be held under its admission id, and again under the sandbox id its reports carry.
    const anonymous = decodeMeteringEvent(
      message(verified('sandbox.create', { shape: 'small', maxLifeSeconds: 60 })),
      topic,
    );
    expect(anonymous).toMatchObject({ ok: false, reason: expect.stringMatching(/resource\.id/) });
    const ok = decodeMeteringEvent(
      message(verified('sandbox.create', { shape: 'small', maxLifeSeconds: '600' }, { type: 'sandbox', id: 'sb' })),
      topic,
    );
    expect(ok).toMatchObject({ ok: true, value: { sandboxId: 'sb', lifeSeconds: 600, admissionId: 'adm-1' } });
  });

  it('decodes a non-sandbox action without hold fields', () => {
    const decoded = decodeMeteringEvent(message(verified('agent.run', {})), 'auth.action.verified.v1');
    expect(decoded).toMatchObject({ ok: true, value: { kind: 'action', action: 'agent.run', sandboxId: null } });
  });
});
