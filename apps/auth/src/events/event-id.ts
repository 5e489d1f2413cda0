import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32, as ULIDs
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/**
 * A ULID (48-bit millisecond time + 80 random bits), for event ids on the verify hot path. The
 * `ulid` package asks the CSPRNG once per character, too slow for that path (docs/BENCHMARKS.md,
 * verify); this draws from a pooled buffer refilled 4 KiB at a time (same randomness source).
 */
export function eventId(now = Date.now()): string {
  if (offset + 10 > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  let out = '';
  let time = now;
  for (let i = 9; i >= 0; i--) {
    out = ALPHABET[time % 32] + out;
    time = Math.floor(time / 32);
  }
  // 80 random bits as 16 characters of 5 bits: 10 bytes read as two 40-bit halves.
  for (let half = 0; half < 2; half++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) bits = bits * 256 + POOL[offset++];
    let chunk = '';
    for (let i = 0; i < 8; i++) {
      chunk = ALPHABET[bits % 32] + chunk;
      bits = Math.floor(bits / 32);
    }
    out += chunk;
  }
  return out;
}
