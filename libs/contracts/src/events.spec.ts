import { z } from 'zod';
import { ALL_ACTIONS } from './actions';
import { actionVerifiedEvent, CLOUD_EVENTS_SPEC, cloudEvent, describeIssues, EventTypes, orgIdSchema } from './events';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';

const verified = (data: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) => ({
  ...cloudEvent({
    id: 'evt-1',
    source: '/auth/verify',
    type: EventTypes.actionVerified,
    subject: ORG,
    time: new Date('2026-06-01T12:00:00Z'),
    data: {
      orgId: ORG,
      keyId: 'key-1',
      userId: 'user-1',
      action: 'sandbox.create',
      params: { size: 'small' },
      ...data,
    },
  }),
  ...overrides,
});

const issuesOf = (input: unknown) => {
  const result = actionVerifiedEvent.safeParse(input);
  expect(result.success).toBe(false);
  return result.error as z.ZodError;
};

describe('orgIdSchema', () => {
  it('accepts ORG-<ulid> and rejects other shapes', () => {
    expect(orgIdSchema.safeParse(ORG).success).toBe(true);
    for (const bad of [
      'org-0123456789ABCDEFGHJKMNPQRS',
      'ORG-0123456789ABCDEFGHJKMNPQR',
      'ORG-0123456789ABCDEFGHJKMNPQRST',
      'ORG-0123456789ABCDEFGHIKMNPQRS',
      'ORG-0123456789abcdefghjkmnpqrs',
      'ORG-',
      '',
    ]) {
      expect(orgIdSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe('cloudEvent', () => {
  it('builds a CloudEvents 1.0 structured envelope', () => {
    const event = verified();
    expect(event).toMatchObject({
      specversion: CLOUD_EVENTS_SPEC,
      id: 'evt-1',
      source: '/auth/verify',
      type: 'action.verified',
      subject: ORG,
      time: '2026-06-01T12:00:00.000Z',
      datacontenttype: 'application/json',
    });
  });

  it('defaults time to now', () => {
    const before = Date.now();
    const { time } = cloudEvent({ id: 'a', source: 's', type: 't', subject: ORG, data: {} });
    expect(Date.parse(time)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(time)).toBeLessThanOrEqual(Date.now());
  });
});

describe('actionVerifiedEvent', () => {
  it('accepts an event built with cloudEvent', () => {
    const result = actionVerifiedEvent.safeParse(verified());
    expect(result.success).toBe(true);
    expect(result.data?.data.params).toEqual({ size: 'small' });
  });

  it('accepts every catalogued action, and defaults params to {}', () => {
    for (const action of ALL_ACTIONS) {
      const { params: _params, ...data } = verified({ action }).data;
      const result = actionVerifiedEvent.safeParse({ ...verified(), data });
      expect(result.success).toBe(true);
      expect(result.data?.data.params).toEqual({});
    }
  });

  it('accepts optional resource and admission id', () => {
    expect(
      actionVerifiedEvent.safeParse(verified({ resource: { type: 'sandbox', id: 'sb-1' }, admissionId: 'adm-1' }))
        .success,
    ).toBe(true);
    expect(actionVerifiedEvent.safeParse(verified({ resource: null, admissionId: null })).success).toBe(true);
  });

  it('rejects a wrong specversion', () => {
    expect(describeIssues(issuesOf(verified({}, { specversion: '0.3' })))).toMatch(/^specversion: /);
  });

  it('rejects a bad org id in the subject and in the data', () => {
    expect(describeIssues(issuesOf(verified({}, { subject: 'acme' })))).toMatch(/^subject: must look like ORG-<ulid>/);
    expect(describeIssues(issuesOf(verified({ orgId: 'ORG-123' })))).toMatch(/^data\.orgId: must look like ORG-<ulid>/);
  });

  it('rejects an unknown action', () => {
    expect(describeIssues(issuesOf(verified({ action: 'sandbox.explode' })))).toMatch(/^data\.action: /);
  });

  it('rejects a missing or empty id', () => {
    const { id: _id, ...withoutId } = verified();
    expect(describeIssues(issuesOf(withoutId))).toMatch(/^id: /);
    expect(describeIssues(issuesOf(verified({}, { id: '' })))).toMatch(/^id: /);
  });

  it('rejects another event type and a time without an offset', () => {
    expect(describeIssues(issuesOf(verified({}, { type: EventTypes.actionDenied })))).toMatch(/^type: /);
    expect(describeIssues(issuesOf(verified({}, { time: 'yesterday' })))).toMatch(/^time: /);
    expect(describeIssues(issuesOf(verified({}, { time: '2026-06-01T12:00:00' })))).toMatch(/^time: /);
  });
});

describe('describeIssues', () => {
  it('names every failing path, joined with "; "', () => {
    const text = describeIssues(issuesOf(verified({ action: 'nope', keyId: '' }, { specversion: '2.0' })));
    expect(text).toContain('specversion: ');
    expect(text).toContain('data.action: ');
    expect(text).toContain('data.keyId: ');
    expect(text.split('; ')).toHaveLength(3);
  });

  it('names the root when the input is not an object', () => {
    expect(describeIssues(issuesOf(null))).toMatch(/^\(root\): /);
    expect(describeIssues(issuesOf('event'))).toMatch(/^\(root\): /);
  });

  it('lists at most five issues', () => {
    const text = describeIssues(issuesOf({}));
    expect(text.split('; ').length).toBeLessThanOrEqual(5);
    expect(issuesOf({}).issues.length).toBeGreaterThan(5);
  });
});
