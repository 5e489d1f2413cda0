/**
 * Money units (docs/ARCHITECTURE.md §2). Balances are integers: sandbox-milliseconds and milli-credits. Decimal
 * strings cross the API boundary; floats never touch the ledger path.
 */
export const MS_PER_HOUR = 3_600_000n;
export const MILLI_PER_CREDIT = 1_000n;

const DECIMAL = /^(\d{1,15})(?:\.(\d{1,9}))?$/;

/**
 * Parses a non-negative decimal string into an integer count of `scale` sub-units, exactly: a
 * value that is not a whole number of sub-units (e.g. 0.0000001 h, under 1 ms) is rejected.
 */
export function parseDecimal(value: string, scale: bigint, field: string): bigint {
  const match = DECIMAL.exec(value);
  if (!match) throw new RangeError(`${field} must be a non-negative decimal string, got ${JSON.stringify(value)}`);
  const [, whole, fraction = ''] = match;
  const scaled = BigInt(whole + fraction) * scale;
  const denominator = 10n ** BigInt(fraction.length);
  if (scaled % denominator !== 0n) {
    throw new RangeError(`${field} has more precision than its unit allows (${JSON.stringify(value)})`);
  }
  return scaled / denominator;
}

/**
 * Formats an integer count of sub-units as a decimal string, trailing zeros trimmed. Exact when
 * the scale is a power of ten (credits); hours (3,600,000 ms) can need endless decimals, so the
 * display is rounded half-up to `maxDecimals`. Display only: the ledger keeps the integers.
 */
export function formatDecimal(units: bigint, scale: bigint, maxDecimals = 6): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const factor = 10n ** BigInt(maxDecimals);
  const rounded = (abs * factor * 2n + scale) / (scale * 2n);
  const whole = rounded / factor;
  const fraction = (rounded % factor).toString().padStart(maxDecimals, '0').replace(/0+$/, '');
  return `${negative && rounded !== 0n ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

export const hoursToMs = (hours: string, field = 'sandboxHours'): bigint => parseDecimal(hours, MS_PER_HOUR, field);
export const msToHours = (ms: bigint): string => formatDecimal(ms, MS_PER_HOUR);
export const creditsToMilli = (credits: string, field = 'agentCredits'): bigint =>
  parseDecimal(credits, MILLI_PER_CREDIT, field);
export const milliToCredits = (milli: bigint): string => formatDecimal(milli, MILLI_PER_CREDIT);

/**
 * Cost of `ms` wall-clock milliseconds at a decimal multiplier such as "1.5", in sandbox-ms,
 * rounded half-up once, here, at the event. The multiplier is applied as a fraction of integers.
 */
export function sandboxCost(ms: bigint, multiplier: string): bigint {
  const match = DECIMAL.exec(multiplier);
  if (!match) throw new RangeError(`multiplier must be a decimal string, got ${JSON.stringify(multiplier)}`);
  const fraction = match[2] ?? '';
  const denominator = 10n ** BigInt(fraction.length);
  const numerator = BigInt(match[1] + fraction);
  return (ms * numerator * 2n + denominator) / (denominator * 2n);
}
