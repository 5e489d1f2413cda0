/**
 * Money units (DESIGN §2). Balances are integers: sandbox-milliseconds and milli-credits. Decimal
 * strings cross the API boundary; floats never touch the ledger path.
 */
export const MS_PER_HOUR = 3_600_000n;
export const MILLI_PER_CREDIT = 1_000n;

const DECIMAL = /^(\d{1,15})(?:\.(\d{1,9}))?$/;

/** Parses a non-negative decimal string into an integer count of `scale` sub-units, exactly. */
export function parseDecimal(value: string, scale: bigint, field: string): bigint {
  const match = DECIMAL.exec(value);
  if (!match) throw new RangeError(`${field} must be a non-negative decimal string, got ${JSON.stringify(value)}`);
  const [, whole, fraction = ''] = match;
  const digits = scale.toString().length - 1;
  if (fraction.replace(/0+$/, '').length > digits) {
    throw new RangeError(`${field} has more precision than its unit allows (${digits} decimals)`);
  }
  return BigInt(whole) * scale + BigInt((fraction + '0'.repeat(digits)).slice(0, digits) || '0');
}

/** Formats an integer count of sub-units as a decimal string with trailing zeros trimmed. */
export function formatDecimal(units: bigint, scale: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / scale;
  const digits = scale.toString().length - 1;
  const fraction = (abs % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
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
