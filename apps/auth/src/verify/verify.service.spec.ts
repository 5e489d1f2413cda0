import { generateApiKey, hashKeySecret, TallyError } from '@tally/contracts';
import type { AdmissionClient } from '../admission/admission.client';
import type { AuthConfig } from '../config/auth.config';
import type { EventBatcher } from '../events/event-batcher.service';
import { MeteredEvents } from '../events/metered-events';
import type { CachedKey, KeyCacheService } from '../key-cache/key-cache.service';
import type { OrgStateService } from '../orgs/org-state.service';
import type { FailureThrottle } from './failure-throttle.service';
import type { LastUsedWriter } from './last-used.writer';
import { VerifyService } from './verify.service';

const PEPPER = 'unit-pepper-unit-pepper-unit-pepper-0123';
const ORG = 'ORG-01JUNIT00000000000000000000';

/** Every collaborator faked; `calls` records the order in which the service reached them. */
function setup() {
  const calls: string[] = [];
  const record =
    <T>(name: string, result: (...args: never[]) => T) =>
    (...args: never[]) => {
      calls.push(name);
      return result(...args);
    };
  const issued = generateApiKey('lysk-');
  const stored: CachedKey = {
    id: issued.lookupId,
    orgId: ORG,
    createdBy: 'USR-1',
    secretHash: hashKeySecret(PEPPER, issued.secret),
    revoked: false,
  };
  const keys = {
    peek: jest.fn(record('peek', () => undefined as CachedKey | null | undefined)),
    readRedis: jest.fn(record('readRedis', async () => undefined as CachedKey | null | undefined)),
    knows: jest.fn(record('knows', () => false)),
    loadFromPostgres: jest.fn(record('loadFromPostgres', async () => stored as CachedKey | null)),
  };
  const throttle = {
    note: jest.fn(),
    countersFor: jest.fn(() => [{ key: 'addr', limit: 5 }]),
    checkAndCount: jest.fn(record('checkAndCount', async () => 0)),
    refund: jest.fn(record('refund', () => undefined)),
  };
  const admission = {
    admit: jest.fn(record('admit', async () => ({ admitted: true, admissionId: 'ADM-1' }) as never)),
    release: jest.fn(record('release', async () => undefined)),
  };
  const events = {
    send: jest.fn(record('send', () => undefined)),
    trySend: jest.fn(record('send', () => undefined)),
    sendAndWait: jest.fn(record('sendAndWait', async () => undefined)),
    sendUntilAcked: jest.fn(record('void', () => undefined)),
  };
  const lastUsed = { touch: jest.fn() };
  const orgs = { suspended: jest.fn(record('suspended', async () => false)) };
  const config = {
    API_KEY_PREFIX: 'lysk-',
    API_KEY_PEPPER: PEPPER,
    EVENT_SOURCE: '//tally/auth',
    EVENT_ACK_TIMEOUT_MS: 100,
  } as AuthConfig;
  const kafka = { clientId: 'auth', brokers: [], topicPrefix: '' };
  // The real MeteredEvents over the fakes: its fail-closed path is part of verify's branch order.
  const metered = new MeteredEvents(
    config,
    kafka,
    admission as unknown as AdmissionClient,
    events as unknown as EventBatcher,
  );
  const sut = new VerifyService(
    config,
    kafka,
    admission as unknown as AdmissionClient,
    keys as unknown as KeyCacheService,
    throttle as unknown as FailureThrottle,
    lastUsed as unknown as LastUsedWriter,
    events as unknown as EventBatcher,
    metered,
    orgs as unknown as OrgStateService,
  );
  const request = (action = 'sandbox.list', key = issued.plaintext) => ({ key, action, orgId: ORG });
  return { sut, calls, keys, throttle, admission, events, stored, issued, request, orgs };
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: TallyError) => error.code,
  );

describe(VerifyService.name, () => {
  describe('verify', () => {
    it('refuses a malformed key without a lookup or a throttle count', async () => {
      const { sut, calls, request } = setup();
      expect(await refusal(sut.verify(request('sandbox.list', 'lysk-nope'), '10.0.0.1'))).toBe('INVALID_API_KEY');
      expect(calls.filter((c) => c !== 'send')).toEqual([]);
    });

    it('passes a key proven by a cache without consulting the throttle', async () => {
      const { sut, keys, throttle, stored, request } = setup();
      keys.readRedis.mockResolvedValueOnce(stored);
      await expect(sut.verify(request(), '10.0.0.1')).resolves.toMatchObject({ allowed: true, keyId: stored.id });
      expect(throttle.checkAndCount).not.toHaveBeenCalled();
      expect(keys.loadFromPostgres).not.toHaveBeenCalled();
    });

    it('counts an uncached key against the throttle before PostgreSQL is asked, and refunds it once proven', async () => {
      const { sut, calls, request } = setup();
      await sut.verify(request(), '10.0.0.1');
      expect(calls).toEqual([
        'peek',
        'readRedis',
        'knows',
        'checkAndCount',
        'loadFromPostgres',
        'refund',
        'suspended',
        'send',
      ]);
    });

    it('refuses a throttled attempt with RATE_LIMITED without asking PostgreSQL', async () => {
      const { sut, throttle, keys, request } = setup();
      throttle.checkAndCount.mockResolvedValueOnce(30);
      expect(await refusal(sut.verify(request(), '10.0.0.1'))).toBe('RATE_LIMITED');
      expect(keys.loadFromPostgres).not.toHaveBeenCalled();
    });

    it('counts a guess answered by a cache, and answers RATE_LIMITED once the limit is reached', async () => {
      const { sut, keys, throttle, stored, request } = setup();
      keys.readRedis.mockResolvedValue({ ...stored, secretHash: Buffer.alloc(32) });
      expect(await refusal(sut.verify(request(), '10.0.0.1'))).toBe('INVALID_API_KEY');
      throttle.checkAndCount.mockResolvedValueOnce(12);
      expect(await refusal(sut.verify(request(), '10.0.0.1'))).toBe('RATE_LIMITED');
      expect(keys.loadFromPostgres).not.toHaveBeenCalled();
    });

    it('refuses a revoked key as revoked, counted apart from guesses', async () => {
      const { sut, keys, throttle, stored, request } = setup();
      keys.readRedis.mockResolvedValueOnce({ ...stored, revoked: true });
      expect(await refusal(sut.verify(request(), '10.0.0.1'))).toBe('API_KEY_REVOKED');
      expect(throttle.note).toHaveBeenCalledWith('revoked');
      expect(throttle.checkAndCount).not.toHaveBeenCalled();
    });

    it("checks the key's organization and the action before asking quota", async () => {
      const { sut, admission, request } = setup();
      const foreign = { ...request('sandbox.create'), orgId: 'ORG-01JOTHER0000000000000000000' };
      expect(await refusal(sut.verify(foreign, '10.0.0.1'))).toBe('NOT_FOUND');
      expect(await refusal(sut.verify(request('billing.read'), '10.0.0.1'))).toBe('ACTION_NOT_ALLOWED_FOR_API_KEY');
      expect(admission.admit).not.toHaveBeenCalled();
    });

    it("refuses a suspended organization's key with ORG_SUSPENDED after the org check, before asking quota", async () => {
      const { sut, admission, orgs, request } = setup();
      orgs.suspended.mockResolvedValue(true);
      const foreign = { ...request('sandbox.create'), orgId: 'ORG-01JOTHER0000000000000000000' };
      expect(await refusal(sut.verify(foreign, '10.0.0.1'))).toBe('NOT_FOUND');
      expect(await refusal(sut.verify(request('sandbox.create'), '10.0.0.1'))).toBe('ORG_SUSPENDED');
      expect(admission.admit).not.toHaveBeenCalled();
    });

    it('admits a metered action with quota before its verified event, and waits for the acknowledgement', async () => {
      const { sut, calls, request } = setup();
      await expect(sut.verify(request('sandbox.create'), '10.0.0.1')).resolves.toMatchObject({ admissionId: 'ADM-1' });
      expect(calls.slice(-2)).toEqual(['admit', 'sendAndWait']);
    });

    it('fails closed without a Kafka acknowledgement for a metered action, releasing its hold', async () => {
      const { sut, events, admission, request } = setup();
      events.sendAndWait.mockRejectedValueOnce(new Error('no ack'));
      expect(await refusal(sut.verify(request('sandbox.create'), '10.0.0.1'))).toBe('DEPENDENCY_UNAVAILABLE');
      expect(admission.release).toHaveBeenCalledWith(ORG, 'ADM-1');
    });
  });
});
