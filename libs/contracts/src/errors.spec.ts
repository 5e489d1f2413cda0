import { DEFAULT_MESSAGES, ErrorCode, ErrorStatus, TallyError } from './error-codes';
import { assertAction, assertOrgId, Errors } from './errors';
import { isOrgId, ORG_ID_PATTERN } from './org-id';

describe('Errors', () => {
  it('builds the repeated failures with their code, status, message and field', () => {
    const cases: [TallyError, ErrorCode, number, string, string | undefined][] = [
      [Errors.orgNotFound(), 'NOT_FOUND', 404, 'No such organization.', undefined],
      [Errors.unknownAction(), 'INVALID_REQUEST', 400, 'action is not an action of the catalog.', 'action'],
      [Errors.invalidOrgId(), 'INVALID_REQUEST', 400, 'orgId must look like ORG-<ulid>.', 'orgId'],
      [Errors.invalidRequest('limit', 'limit must be 1..9.'), 'INVALID_REQUEST', 400, 'limit must be 1..9.', 'limit'],
      [Errors.apiKeyNotFound(), 'NOT_FOUND', 404, 'No such API key.', undefined],
      [Errors.conflict('taken', 'admissionId'), 'CONFLICT', 409, 'taken', 'admissionId'],
    ];
    for (const [error, code, status, message, field] of cases) {
      expect(error).toBeInstanceOf(TallyError);
      expect({ code: error.code, status: error.status, message: error.message, field: error.details.field }).toEqual({
        code,
        status,
        message,
        field,
      });
    }
  });

  it('carries retry-after where the caller should come back', () => {
    expect(Errors.dependencyUnavailable('down', 1).details).toEqual({ retryAfterSeconds: 1 });
    expect(Errors.dependencyUnavailable('down').details).toEqual({});
    expect(Errors.rateLimited('slow', 3).details.retryAfterSeconds).toBe(3);
  });

  it('has a default message for every code', () => {
    for (const code of Object.keys(ErrorStatus) as ErrorCode[]) {
      expect(new TallyError(code).message).toBe(DEFAULT_MESSAGES[code]);
      expect(DEFAULT_MESSAGES[code].length).toBeGreaterThan(0);
    }
  });
});

describe('assertAction', () => {
  it('passes a catalog action and names the field of an unknown one', () => {
    expect(() => assertAction('sandbox.create')).not.toThrow();
    expect(() => assertAction('sandbox.explode')).toThrow(Errors.unknownAction());
    expect(() => assertAction(42)).toThrow('action is not an action of the catalog.');
  });
});

describe('ORG_ID_PATTERN', () => {
  it('accepts ORG-<ulid> only', () => {
    expect(isOrgId('ORG-01JC0000000000000000000000')).toBe(true);
    expect(ORG_ID_PATTERN.test('ORG-01JC000000000000000000000I')).toBe(false);
    expect(isOrgId(7)).toBe(false);
    expect(() => assertOrgId('acme')).toThrow('orgId must look like ORG-<ulid>.');
  });
});
