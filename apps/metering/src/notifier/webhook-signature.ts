import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe-like). */
export const SIGNATURE_HEADER = 'x-tally-signature';

/** How long a receiver should accept a signature's timestamp, either side of its own clock. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The signature format, as OpenAPI and the README state it. */
export const SIGNATURE_FORMAT =
  'Every delivery is a POST of the alert (a CloudEvent, JSON) with the header ' +
  "`x-tally-signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`: the HMAC, keyed with the endpoint's secret, " +
  'of the string `<t>.<raw request body>` (the exact bytes received). Receivers recompute it, compare in ' +
  `constant time, and refuse a t more than ${SIGNATURE_TOLERANCE_SECONDS} s from their clock (replays). ` +
  '`x-tally-event-id` is the alert id (the same on every retry: deduplicate on it), `x-tally-delivery` the delivery id.';

/**
 * Signs the exact bytes sent. The timestamp is inside the MAC so a captured delivery cannot be
 * replayed later with a fresh timestamp; receivers reject old timestamps (tolerance below).
 */
export function signPayload(secret: string, body: string, timestampSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** For receivers (and tests): true if the header is a valid signature of `body` within `toleranceSeconds` of `now`. */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  if (!header) return false;
  const parts = new Map(
    header.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const given = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !/^[0-9a-f]{64}$/.test(given))
    return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

/**
 * Delay before retry number `attempt` (1 = the first retry): exponential from `baseMs`, capped,
 * with "full jitter" in [half, full] so endpoints that failed together do not retry in lockstep.
 * `random` in [0, 1).
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(ceiling / 2 + (ceiling / 2) * random);
}
