import fc from 'fast-check';
import {
  DEFAULT_KEY_PREFIX,
  formatApiKey,
  generateApiKey,
  hashKeySecret,
  keyChecksum,
  LOOKUP_ID_LENGTH,
  parseApiKey,
  SECRET_LENGTH,
} from './api-key-format';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const P = DEFAULT_KEY_PREFIX;

const replaceAt = (s: string, i: number, c: string) => s.slice(0, i) + c + s.slice(i + 1);

describe('generateApiKey / parseApiKey', () => {
  it('round-trips a generated key', () => {
    for (let i = 0; i < 50; i++) {
      const key = generateApiKey(P);
      expect(parseApiKey(P, key.plaintext)).toEqual({ lookupId: key.lookupId, secret: key.secret });
    }
  });

  it('has the documented shape', () => {
    const key = generateApiKey(P);
    expect(key.plaintext).toMatch(new RegExp(`^${P}[${ALPHABET}]{16}_[${ALPHABET}]{52}_[${ALPHABET}]{6}$`));
    expect(key.plaintext).toBe(formatApiKey(P, key.lookupId, key.secret));
    expect(key.displayPrefix).toBe(`${P}${key.lookupId.slice(0, 8)}`);
    expect(key.plaintext.startsWith(key.displayPrefix)).toBe(true);
    expect(key.lookupId).toHaveLength(LOOKUP_ID_LENGTH);
  });

  it('carries a secret of at least 256 bits (52 base32 characters)', () => {
    const key = generateApiKey(P);
    expect(SECRET_LENGTH).toBe(52);
    expect(key.secret).toHaveLength(52);
    expect(key.secret.length * 5).toBeGreaterThanOrEqual(256);
    expect([...key.secret].every((c) => ALPHABET.includes(c))).toBe(true);
  });

  it('generates distinct keys, lookup ids and secrets', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey(P));
    expect(new Set(keys.map((k) => k.plaintext)).size).toBe(200);
    expect(new Set(keys.map((k) => k.lookupId)).size).toBe(200);
    expect(new Set(keys.map((k) => k.secret)).size).toBe(200);
  });

  it('works with a custom prefix and rejects keys of another prefix', () => {
    const key = generateApiKey('acme_');
    expect(key.plaintext.startsWith('acme_')).toBe(true);
    expect(parseApiKey('acme_', key.plaintext)).toEqual({ lookupId: key.lookupId, secret: key.secret });
    expect(parseApiKey(P, key.plaintext)).toBeNull();
    expect(parseApiKey('acme_', generateApiKey(P).plaintext)).toBeNull();
  });

  it('treats regex metacharacters in a prefix literally', () => {
    const key = generateApiKey('a.b+');
    expect(parseApiKey('a.b+', key.plaintext)).not.toBeNull();
    expect(parseApiKey('a.b+', key.plaintext.replace('a.b+', 'axbb'))).toBeNull();
  });

  it('rejects a wrong prefix', () => {
    const { plaintext } = generateApiKey(P);
    const body = plaintext.slice(P.length);
    expect(parseApiKey(P, `lysk_${body}`)).toBeNull();
    expect(parseApiKey(P, `LYSK-${body}`)).toBeNull();
    expect(parseApiKey(P, body)).toBeNull();
    expect(parseApiKey(P, `x${plaintext}`)).toBeNull();
  });

  it('rejects extra whitespace', () => {
    const { plaintext } = generateApiKey(P);
    for (const variant of [
      ` ${plaintext}`,
      `${plaintext} `,
      `${plaintext}\n`,
      `\t${plaintext}`,
      replaceAt(plaintext, 10, ' '),
    ]) {
      expect(parseApiKey(P, variant)).toBeNull();
    }
  });

  it('rejects truncated and extended keys', () => {
    const { plaintext } = generateApiKey(P);
    expect(parseApiKey(P, plaintext.slice(0, -1))).toBeNull();
    expect(parseApiKey(P, `${plaintext}0`)).toBeNull();
    expect(parseApiKey(P, '')).toBeNull();
  });

  it.each([undefined, null, 42, {}, [], true, Symbol('k'), () => 'lysk-'])(
    'returns null for the non-string %p',
    (input) => {
      expect(parseApiKey(P, input)).toBeNull();
    },
  );

  it('returns null, quickly, for a 10k-character string', () => {
    expect(parseApiKey(P, 'a'.repeat(10_000))).toBeNull();
    expect(parseApiKey(P, `${P}${'0'.repeat(10_000)}`)).toBeNull();
  });

  it('rejects a well-formed key whose checksum does not match', () => {
    const lookupId = '0'.repeat(LOOKUP_ID_LENGTH);
    const secret = '1'.repeat(SECRET_LENGTH);
    const good = keyChecksum(P, lookupId, secret);
    const bad = good === '000000' ? '000001' : '000000';
    expect(parseApiKey(P, `${P}${lookupId}_${secret}_${good}`)).toEqual({ lookupId, secret });
    expect(parseApiKey(P, `${P}${lookupId}_${secret}_${bad}`)).toBeNull();
  });

  // CRC32 detects every burst of <= 32 bits, and its difference for a substitution does not
  // depend on the rest of the key; truncated to 30 bits it could in principle collide, but no
  // single-character substitution does: the exhaustive sweep below shows it for this layout.
  it('detects every single-character substitution (exhaustive over positions and alphabet)', () => {
    for (const prefix of [P, 'acme_']) {
      const { plaintext } = generateApiKey(prefix);
      for (let i = 0; i < plaintext.length; i++) {
        for (const c of ALPHABET) {
          if (c === plaintext[i]) continue;
          const mutated = replaceAt(plaintext, i, c);
          if (parseApiKey(prefix, mutated) !== null) throw new Error(`undetected: position ${i} -> ${c}`);
        }
      }
    }
  });

  it('detects a single-character substitution in any random key (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10_000 }),
        fc.constantFrom(...ALPHABET, '_', '-', 'A', 'Z', 'i', 'l', 'o', 'u'),
        (seed, replacement) => {
          const { plaintext } = generateApiKey(P);
          const i = seed % plaintext.length;
          fc.pre(plaintext[i] !== replacement);
          expect(parseApiKey(P, replaceAt(plaintext, i, replacement))).toBeNull();
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('hashKeySecret', () => {
  it('is a deterministic 32-byte HMAC per pepper', () => {
    const { secret } = generateApiKey(P);
    const a = hashKeySecret('pepper-1', secret);
    expect(a).toBeInstanceOf(Buffer);
    expect(a).toHaveLength(32);
    expect(hashKeySecret('pepper-1', secret).equals(a)).toBe(true);
  });

  it('differs across peppers and across secrets', () => {
    const { secret } = generateApiKey(P);
    expect(hashKeySecret('pepper-1', secret).equals(hashKeySecret('pepper-2', secret))).toBe(false);
    expect(hashKeySecret('pepper-1', secret).equals(hashKeySecret('pepper-1', generateApiKey(P).secret))).toBe(false);
  });

  it('does not contain the secret', () => {
    const { secret } = generateApiKey(P);
    expect(hashKeySecret('p', secret).toString('latin1')).not.toContain(secret);
    expect(hashKeySecret('p', secret).toString('hex')).not.toContain(secret);
  });
});
