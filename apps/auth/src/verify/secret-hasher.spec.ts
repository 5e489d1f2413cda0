import { hashKeySecret } from '@tally/contracts';
import fc from 'fast-check';
import { SecretHasher } from './secret-hasher';

describe('SecretHasher', () => {
  it('computes exactly what hashKeySecret stores', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 32, maxLength: 64 }), fc.string({ maxLength: 80 }), (pepper, secret) => {
        expect(new SecretHasher(pepper).hash(secret).equals(hashKeySecret(pepper, secret))).toBe(true);
      }),
    );
  });
});
