import fc from 'fast-check';
import { retryDelayMs, signPayload, verifySignature } from './webhook-signature';

describe('webhook signatures', () => {
  it('verifies what it signed, and nothing else', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), fc.integer({ min: 1e9, max: 2e9 }), (secret, body, t) => {
        const header = signPayload(secret, body, t);
        expect(verifySignature(secret, body, header, t)).toBe(true);
        expect(verifySignature(`${secret}x`, body, header, t)).toBe(false);
        expect(verifySignature(secret, `${body} `, header, t)).toBe(false);
        expect(verifySignature(secret, body, header, t + 301)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects malformed headers', () => {
    expect(verifySignature('s', 'b', undefined, 1)).toBe(false);
    expect(verifySignature('s', 'b', 't=1,v1=zz', 1)).toBe(false);
    expect(verifySignature('s', 'b', 'v1=' + 'a'.repeat(64), 1)).toBe(false);
  });

  it('backoff grows exponentially within [half, full] of its ceiling, capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (n, r) => {
        const delay = retryDelayMs(n, 100, 60_000, r);
        const ceiling = Math.min(60_000, 100 * 2 ** (n - 1));
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }),
    );
    expect(retryDelayMs(1, 100, 60_000, 0)).toBe(50);
    expect(retryDelayMs(3, 100, 60_000, 0)).toBe(200);
  });
});
