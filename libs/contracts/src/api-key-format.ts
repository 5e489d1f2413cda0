import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * API key wire format: `<prefix><lookupId>_<secret>_<checksum>`, e.g. `lysk-0h4x..._..._k3j9qa`.
 * The lookup id finds the row; only an HMAC of the secret is stored; the checksum lets a gateway
 * or a leaked-key scanner reject a mistyped or made-up string without a database hit.
 */
export const DEFAULT_KEY_PREFIX = 'lysk-';
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case
export const LOOKUP_ID_LENGTH = 16;
export const SECRET_LENGTH = 52; // 32 random bytes = 256 bits
const CHECKSUM_LENGTH = 6;

export interface ParsedApiKey {
  lookupId: string;
  secret: string;
}

export function base32(bytes: Uint8Array, length: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out.slice(0, length);
}

export function keyChecksum(prefix: string, lookupId: string, secret: string): string {
  const crc = crc32(`${prefix}${lookupId}_${secret}`);
  const bytes = new Uint8Array([crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255]);
  return base32(bytes, CHECKSUM_LENGTH);
}

export function formatApiKey(prefix: string, lookupId: string, secret: string): string {
  return `${prefix}${lookupId}_${secret}_${keyChecksum(prefix, lookupId, secret)}`;
}

const partsPattern = (prefix: string) =>
  new RegExp(
    `^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([${ALPHABET}]{${LOOKUP_ID_LENGTH}})_([${ALPHABET}]{${SECRET_LENGTH}})_([${ALPHABET}]{${CHECKSUM_LENGTH}})$`,
  );
const patterns = new Map<string, RegExp>();

/** Returns the parts of a well-formed key with a valid checksum, or null; never throws. */
export function parseApiKey(prefix: string, key: unknown): ParsedApiKey | null {
  if (typeof key !== 'string' || key.length > 200) return null;
  let pattern = patterns.get(prefix);
  if (!pattern) patterns.set(prefix, (pattern = partsPattern(prefix)));
  const match = pattern.exec(key);
  if (!match) return null;
  const [, lookupId, secret, checksum] = match;
  return keyChecksum(prefix, lookupId, secret) === checksum ? { lookupId, secret } : null;
}

export interface IssuedApiKey extends ParsedApiKey {
  /** The full key: shown once to its creator, never stored. */
  plaintext: string;
  /** What listings show: the prefix and the lookup id's first characters. */
  displayPrefix: string;
}

/** A new key: 80-bit lookup id, 256-bit secret. */
export function generateApiKey(prefix: string): IssuedApiKey {
  const lookupId = base32(randomBytes(10), LOOKUP_ID_LENGTH);
  const secret = base32(randomBytes(32), SECRET_LENGTH);
  return {
    lookupId,
    secret,
    plaintext: formatApiKey(prefix, lookupId, secret),
    displayPrefix: `${prefix}${lookupId.slice(0, 8)}`,
  };
}

/**
 * What is stored in place of the secret. A slow password hash buys nothing for a 256-bit random
 * secret; the pepper (kept outside the database) makes a stolen table useless on its own.
 */
export function hashKeySecret(pepper: string, secret: string): Buffer {
  return createHmac('sha256', pepper).update(secret).digest();
}
