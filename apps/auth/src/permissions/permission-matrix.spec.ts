import { ACTIONS, ALL_ACTIONS } from '@tally/contracts';
import { decide } from './permission-matrix';

const resource = ALL_ACTIONS.filter((action) => ACTIONS[action].audience === 'resource');
const administrative = ALL_ACTIONS.filter((action) => ACTIONS[action].audience === 'administrative');

describe('permission matrix for API keys', () => {
  it('covers the published catalog: 18 resource actions, 8 administrative ones', () => {
    expect(resource).toHaveLength(18);
    expect(administrative.sort()).toEqual(
      [
        'api_key.create',
        'api_key.delete',
        'api_key.list',
        'billing.purchase',
        'billing.read',
        'org.invitations.manage',
        'org.members.manage',
        'org.settings.update',
      ].sort(),
    );
  });

  it.each(resource)('allows %s', (action) => {
    expect(decide({ kind: 'api_key' }, action)).toEqual({ allowed: true });
  });

  it.each(administrative)('denies %s with ACTION_NOT_ALLOWED_FOR_API_KEY', (action) => {
    expect(decide({ kind: 'api_key' }, action)).toMatchObject({
      allowed: false,
      code: 'ACTION_NOT_ALLOWED_FOR_API_KEY',
    });
  });
});

describe('permission matrix for dashboard users', () => {
  it('lets only owners purchase or read billing', () => {
    expect(decide({ kind: 'user', role: 'owner' }, 'billing.purchase')).toEqual({ allowed: true });
    expect(decide({ kind: 'user', role: 'admin' }, 'billing.read')).toMatchObject({ code: 'ROLE_FORBIDDEN' });
  });

  it("lets owners and admins list and revoke the org's keys, not members (they manage only their own)", () => {
    for (const action of ['api_key.list', 'api_key.delete'] as const) {
      expect(decide({ kind: 'user', role: 'admin' }, action)).toEqual({ allowed: true });
      expect(decide({ kind: 'user', role: 'member' }, action)).toMatchObject({ code: 'ROLE_FORBIDDEN' });
    }
  });

  it('lets owners and admins create keys, not members', () => {
    expect(decide({ kind: 'user', role: 'admin' }, 'api_key.create')).toEqual({ allowed: true });
    expect(decide({ kind: 'user', role: 'member' }, 'api_key.create')).toMatchObject({ code: 'ROLE_FORBIDDEN' });
  });
});
