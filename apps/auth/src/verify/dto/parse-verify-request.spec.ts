import { TallyError } from '@tally/contracts';
import fc from 'fast-check';
import { parseVerifyRequest } from './parse-verify-request';

const valid = { key: 'lysk-x', action: 'sandbox.list', orgId: 'ORG-1' };
const failure = (body: unknown) => {
  try {
    parseVerifyRequest(body);
  } catch (error) {
    if (error instanceof TallyError) return { code: error.code, field: error.details.field };
    throw error;
  }
  return 'accepted';
};

describe('parseVerifyRequest', () => {
  it('accepts a valid body and drops unknown fields', () => {
    const parsed = parseVerifyRequest({
      ...valid,
      resource: { type: 'sandbox', id: 'SBX-1' },
      params: { shape: 'large' },
      sourceAddress: '2001:db8::1',
      admin: true,
    });
    expect({ ...parsed }).toEqual({
      ...valid,
      resource: { type: 'sandbox', id: 'SBX-1' },
      params: { shape: 'large' },
      sourceAddress: '2001:db8::1',
    });
  });

  it.each([
    [null, 'body'],
    [[], 'body'],
    ['text', 'body'],
    [{ ...valid, key: 1 }, 'key'],
    [{ ...valid, key: '' }, 'key'],
    [{ ...valid, key: 'k'.repeat(201) }, 'key'],
    [{ ...valid, action: undefined }, 'action'],
    [{ ...valid, orgId: ['ORG-1'] }, 'orgId'],
    [{ ...valid, resource: 'sandbox' }, 'resource'],
    [{ ...valid, resource: { type: 'sandbox' } }, 'resource.id'],
    [{ ...valid, action: 'sandbox.create', params: { shape: 'small', maxLifeSeconds: 60 } }, 'resource.id'],
    [{ ...valid, action: 'sandbox.extend', params: { extendSeconds: 60 } }, 'resource.id'],
    [{ ...valid, action: 'sandbox.delete' }, 'resource.id'],
    [{ ...valid, action: 'sandbox.create', resource: { type: 'project', id: 'P-1' } }, 'resource.type'],
    [{ ...valid, params: [] }, 'params'],
    [{ ...valid, params: null }, 'params'],
    [{ ...valid, sourceAddress: 'localhost' }, 'sourceAddress'],
  ])('rejects %j naming %s', (body, field) => {
    expect(failure(body)).toEqual({ code: 'INVALID_REQUEST', field });
  });

  it('never throws anything but INVALID_REQUEST, whatever the value', () => {
    fc.assert(
      fc.property(fc.anything(), (body) => {
        const result = failure(body);
        expect(result === 'accepted' || result.code === 'INVALID_REQUEST').toBe(true);
      }),
    );
  });
});
