import fc from 'fast-check';
import {
  creditsToMilli,
  formatDecimal,
  hoursToMs,
  MILLI_PER_CREDIT,
  milliToCredits,
  MS_PER_HOUR,
  msToHours,
  parseDecimal,
  sandboxCost,
} from './units';

describe('creditsToMilli / parseDecimal (milli-credits, scale 1000)', () => {
  it.each([
    ['0', 0n],
    ['1', 1_000n],
    ['0.001', 1n],
    ['0.5', 500n],
    ['1.25', 1_250n],
    ['12.345', 12_345n],
    ['007', 7_000n],
    ['1.000000', 1_000n], // trailing zeros beyond the unit's precision are harmless
    ['999999999999999.999', 999_999_999_999_999_999n],
  ])('%s credits = %s milli', (input, expected) => {
    expect(creditsToMilli(input)).toBe(expected);
    expect(parseDecimal(input, MILLI_PER_CREDIT, 'x')).toBe(expected);
  });

  it('rejects more decimals than the unit allows, naming the field', () => {
    expect(() => creditsToMilli('0.0001')).toThrow(RangeError);
    expect(() => creditsToMilli('0.0001')).toThrow(/agentCredits/);
    expect(() => creditsToMilli('1.2345', 'topUp.credits')).toThrow(/topUp\.credits/);
  });

  it.each([
    '-1',
    '-0.5',
    '',
    ' ',
    '1.',
    '.5',
    '1,5',
    'abc',
    '1e3',
    '0x10',
    ' 1',
    '1 ',
    '+1',
    '1.2.3',
    'NaN',
    'Infinity',
    '1234567890123456',
    '1.0000000000',
  ])('rejects %j with a RangeError naming the field', (input) => {
    expect(() => creditsToMilli(input, 'amount')).toThrow(RangeError);
    expect(() => creditsToMilli(input, 'amount')).toThrow(/amount/);
  });

  it('formats milli-credits with trailing zeros trimmed', () => {
    expect(milliToCredits(0n)).toBe('0');
    expect(milliToCredits(1n)).toBe('0.001');
    expect(milliToCredits(1_500n)).toBe('1.5');
    expect(milliToCredits(2_000n)).toBe('2');
    expect(milliToCredits(-1_250n)).toBe('-1.25');
  });

  it('round-trips: parse(format(n)) === n for every n >= 0 within 15 whole digits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n * MILLI_PER_CREDIT - 1n }), (n) => {
        expect(creditsToMilli(milliToCredits(n))).toBe(n);
        expect(parseDecimal(formatDecimal(n, MILLI_PER_CREDIT), MILLI_PER_CREDIT, 'x')).toBe(n);
      }),
      { numRuns: 500 },
    );
  });
});

describe('hoursToMs / msToHours (sandbox-ms, scale 3600000)', () => {
  // Whole hours happen to come out right.
  it.each([
    ['0', 0n],
    ['1', 3_600_000n],
    ['2', 7_200_000n],
    ['007', 25_200_000n],
    ['10', 36_000_000n],
  ])('%s hours = %s ms', (input, expected) => {
    expect(hoursToMs(input)).toBe(expected);
  });

  it('rounds a display of hours that has no finite decimal half-up at 6 places', () => {
    expect(msToHours(1n)).toBe('0');
    expect(msToHours(2n)).toBe('0.000001');
    expect(msToHours(1_000n)).toBe('0.000278');
  });

  it('formats whole hours', () => {
    expect(msToHours(0n)).toBe('0');
    expect(msToHours(3_600_000n)).toBe('1');
    expect(msToHours(36_000_000n)).toBe('10');
  });

  // MS_PER_HOUR is not a power of ten: fractional hours must be scaled, not read as digits.
  it.each([
    ['1.5', 5_400_000n],
    ['0.5', 1_800_000n],
    ['0.25', 900_000n],
    ['0.001', 3_600n],
    ['0.0001', 360n],
  ])('%s hours = %s ms (fractional hours)', (input, expected) => {
    expect(hoursToMs(input)).toBe(expected);
  });

  it.each([
    [5_400_000n, '1.5'],
    [1_800_000n, '0.5'],
    [900_000n, '0.25'],
    [3_600n, '0.001'],
  ])('%s ms formats as %s hours', (ms, expected) => {
    expect(msToHours(ms)).toBe(expected);
  });

  it('rejects more decimals than a millisecond allows, naming the field', () => {
    // 0.0000001 h = 0.36 ms: not a whole number of milliseconds.
    expect(() => hoursToMs('0.0000001')).toThrow(/sandboxHours/);
    expect(() => hoursToMs('0.0000001', 'grant.hours')).toThrow(/grant\.hours/);
  });

  it.each(['-1', '', 'x', '1.', '.5', '1e2', '1_000'])('rejects %j naming the field', (input) => {
    expect(() => hoursToMs(input)).toThrow(RangeError);
    expect(() => hoursToMs(input)).toThrow(/sandboxHours/);
  });

  // 1 ms = 1/3600000 h has no finite decimal expansion, so the round-trip property can only
  // hold for exactly representable amounts; multiples of 3600 ms are 0.001 h steps.
  it('round-trips: parse(format(n)) === n for multiples of 3600 ms (0.001 h)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), (k) => {
        const n = k * 3_600n;
        expect(hoursToMs(msToHours(n))).toBe(n);
        expect(parseDecimal(formatDecimal(n, MS_PER_HOUR), MS_PER_HOUR, 'x')).toBe(n);
      }),
      { numRuns: 500 },
    );
  });
});

describe('sandboxCost (half-up rounding, once)', () => {
  it.each([
    [1n, '1.5', 2n], // 1.5 rounds up
    [1n, '1.4', 1n],
    [1n, '1.6', 2n],
    [3n, '0.5', 2n], // 1.5 -> 2
    [1n, '0.5', 1n], // 0.5 -> 1
    [1n, '0.49', 0n],
    [1n, '0.4999999', 0n],
    [1n, '0.500000000', 1n],
    [3_600_000n, '2', 7_200_000n],
    [3_600_000n, '1', 3_600_000n],
    [1_000n, '0', 0n],
    [0n, '1.5', 0n],
    [7n, '1.50', 11n], // 10.5 -> 11; trailing zero does not change the rate
    [5n, '0.1', 1n], // 0.5 -> 1
    [4n, '0.1', 0n], // 0.4 -> 0
    [1n, '007', 7n],
  ])('%s ms at %s = %s', (ms, multiplier, expected) => {
    expect(sandboxCost(ms, multiplier)).toBe(expected);
  });

  it.each(['-1', '', 'x', '1.', '.5', '1e2', '1.0000000001'])('rejects multiplier %j', (multiplier) => {
    expect(() => sandboxCost(1n, multiplier)).toThrow(RangeError);
    expect(() => sandboxCost(1n, multiplier)).toThrow(/multiplier/);
  });

  const multiplierArb = fc
    .tuple(
      fc.bigInt({ min: 0n, max: 10n ** 6n }),
      fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 0, maxLength: 9 }),
    )
    .map(([whole, fraction]) => ({ text: fraction ? `${whole}.${fraction}` : `${whole}`, whole, fraction }));
  const msArb = fc.bigInt({ min: 0n, max: 10n ** 12n });

  /** Exact rational rounding, half away from zero, computed with quotient and remainder. */
  const reference = (ms: bigint, whole: bigint, fraction: string): bigint => {
    const denominator = 10n ** BigInt(fraction.length);
    const numerator = whole * denominator + (fraction ? BigInt(fraction) : 0n);
    const product = ms * numerator;
    const quotient = product / denominator;
    const remainder = product % denominator;
    return 2n * remainder >= denominator ? quotient + 1n : quotient;
  };

  it('equals exact rational half-up rounding computed independently', () => {
    fc.assert(
      fc.property(msArb, multiplierArb, (ms, m) => {
        expect(sandboxCost(ms, m.text)).toBe(reference(ms, m.whole, m.fraction));
      }),
      { numRuns: 1000 },
    );
  });

  it('is never negative', () => {
    fc.assert(
      fc.property(msArb, multiplierArb, (ms, m) => {
        expect(sandboxCost(ms, m.text) >= 0n).toBe(true);
      }),
    );
  });

  it('is monotone in ms', () => {
    fc.assert(
      fc.property(msArb, msArb, multiplierArb, (a, b, m) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(sandboxCost(lo, m.text) <= sandboxCost(hi, m.text)).toBe(true);
      }),
    );
  });

  it('is exact (no rounding) for whole multipliers', () => {
    fc.assert(
      fc.property(msArb, fc.bigInt({ min: 0n, max: 1000n }), (ms, m) => {
        expect(sandboxCost(ms, m.toString())).toBe(ms * m);
      }),
    );
  });
});
