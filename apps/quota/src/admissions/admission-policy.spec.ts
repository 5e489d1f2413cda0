import { TallyError } from '@tally/contracts';
import { gcraParameters } from '@tally/redis';
import fc from 'fast-check';
import {
  admissionKind,
  failsOpen,
  fingerprint,
  reservedSeconds,
  reserveFor,
  retryAfterSeconds,
} from './admission-policy';

describe('admission policy', () => {
  it('maps actions to the Lua branch that decides them', () => {
    expect(admissionKind('sandbox.create')).toBe('create');
    expect(admissionKind('sandbox.extend')).toBe('extend');
    expect(admissionKind('agent.run')).toBe('agent');
    expect(admissionKind('sandbox.list')).toBe('none');
  });

  it('reserves maxLifeSeconds x pricePerHour in sandbox-ms, rounded half-up once', () => {
    expect(reserveFor(3_600, { name: 'small', pricePerHour: '1', requiredPlanTier: 0 })).toBe(3_600_000n);
    expect(reserveFor(3_600, { name: 'gpu', pricePerHour: '12.5', requiredPlanTier: 2 })).toBe(45_000_000n);
    // 1 s at 0.0005 = 0.5 ms: half rounds up.
    expect(reserveFor(1, { name: 'tiny', pricePerHour: '0.0005', requiredPlanTier: 0 })).toBe(1n);
  });

  it('reserves exactly seconds x 1000 at multiplier 1 for every duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 * 86_400 }), (seconds) => {
        expect(reserveFor(seconds, { name: 's', pricePerHour: '1', requiredPlanTier: 0 })).toBe(
          BigInt(seconds) * 1000n,
        );
      }),
    );
  });

  it('requires maxLifeSeconds for create and extendSeconds (or seconds) for extend, as metering does', () => {
    expect(reservedSeconds('create', { maxLifeSeconds: 60 })).toBe(60);
    expect(reservedSeconds('extend', { extendSeconds: 900 })).toBe(900);
    expect(reservedSeconds('extend', { seconds: 300 })).toBe(300);
    for (const bad of [{}, { maxLifeSeconds: 1.5 }, { maxLifeSeconds: 0 }, { maxLifeSeconds: '60' }]) {
      expect(() => reservedSeconds('create', bad)).toThrow(TallyError);
    }
    expect(() => reservedSeconds('extend', {})).toThrow(/extendSeconds/);
  });

  it('fails metered actions closed and others open, unless configured per action', () => {
    expect(failsOpen('sandbox.create', [], [])).toBe(false);
    expect(failsOpen('agent.run', [], [])).toBe(false);
    expect(failsOpen('sandbox.list', [], [])).toBe(true);
    expect(failsOpen('agent.run', ['agent.run'], [])).toBe(true);
    expect(failsOpen('sandbox.list', [], ['sandbox.list'])).toBe(false);
  });

  it('fingerprints differ when the request differs and never contain the record separator', () => {
    expect(fingerprint('k1', 'sandbox.create', 1n)).toBe(fingerprint('k1', 'sandbox.create', 1n));
    expect(fingerprint('k1', 'sandbox.create', 1n)).not.toBe(fingerprint('k1', 'sandbox.create', 2n));
    expect(fingerprint('k1', 'sandbox.create', 1n)).not.toBe(fingerprint('k2', 'sandbox.create', 1n));
    expect(fingerprint('k1', 'sandbox.create', 1n, 'SBX-A')).not.toBe(fingerprint('k1', 'sandbox.create', 1n, 'SBX-B'));
    expect(fingerprint('k1', 'sandbox.create', 1n, 'a:b')).not.toContain(':');
    expect(fingerprint('k1', 'agent.run', 0n)).not.toContain(':');
  });

  it('rounds Retry-After up to whole seconds, at least one', () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
  });

  it('derives GCRA parameters that allow one second of burst', () => {
    expect(gcraParameters(0)).toEqual({ intervalUs: 0, toleranceUs: 0 });
    expect(gcraParameters(10)).toEqual({ intervalUs: 100_000, toleranceUs: 900_000 });
    expect(gcraParameters(1)).toEqual({ intervalUs: 1_000_000, toleranceUs: 0 });
  });
});
