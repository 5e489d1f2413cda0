import { cloudEvent } from '@tally/contracts';
import { KafkaMessage } from 'kafkajs';
import { decodeMeteringEvent } from './event-decoder';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';
const message = (value: unknown): KafkaMessage =>
  ({ value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), offset: '0' }) as KafkaMessage;
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
    const decoded = decodeMeteringEvent(message(usage({ runtimeMs: '9007199254740993' })), 'p.usage.sandbox.v1');
    expect(decoded).toMatchObject({ ok: true, value: { kind: 'sandbox', runtimeMs: 9_007_199_254_740_993n } });
  });

  it.each([
    ['not json', 'unparseable'],
    ['[1,2]', 'unparseable'],
    [usage({}, { specversion: '2.0' }), 'version'],
    [usage({}, { dataschema: 'https://x/usage.sandbox/v2' }), 'version'],
    [usage({ runtimeMs: 1.5 }), 'schema'],
    [usage({ orgId: 'ORG-0123456789ABCDEFGHJKMNPQRT' }), 'schema'],
    [usage({}, { type: 'sandbox.exploded' }), 'schema'],
  ])('rejects %j as %s', (value, reasonClass) => {
    const decoded = decodeMeteringEvent(message(value), 'p.usage.sandbox.v1');
    expect(decoded).toMatchObject({ ok: false, reasonClass });
  });

  it('accepts a dataschema of the supported major version', () => {
    const decoded = decodeMeteringEvent(
      message(usage({}, { dataschema: 'https://x/usage.sandbox/v1.3' })),
      'usage.sandbox.v1',
    );
    expect(decoded.ok).toBe(true);
  });

  it('needs a shape and a lifetime to price a sandbox.create', () => {
    const topic = 'auth.action.verified.v1';
    expect(decodeMeteringEvent(message(verified('sandbox.create', { shape: 'small' })), topic)).toMatchObject({
      ok: false,
      reasonClass: 'schema',
    });
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
