type Element = string | number | bigint | boolean | Date | null | undefined;

const needsEscape = /["\\]/;

/**
 * A PostgreSQL array literal (`{"a","b",NULL,3}`) for a one-dimensional array of strings, numbers,
 * bigints, booleans, Dates (written as UTC instants, for `timestamptz[]`) and nulls. node-postgres
 * serializes array parameters itself, but element by element through a regular expression and
 * string concatenation: for the ledger's batch statements (tens of array elements per event) that
 * was a visible share of metering's CPU and garbage. Anything else (nested arrays, buffers,
 * objects) is returned as is, for node-postgres to serialize.
 */
export function pgArrayLiteral(values: readonly unknown[]): string | readonly unknown[] {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as Element;
    if (i > 0) literal += ',';
    if (value === null || value === undefined) literal += 'NULL';
    else if (typeof value === 'string')
      literal += needsEscape.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
    else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
      literal += String(value);
    else if (value instanceof Date && !Number.isNaN(value.getTime())) literal += `"${value.toISOString()}"`;
    else return values;
  }
  return `${literal}}`;
}

/** Query parameters with every array turned into its literal (see `pgArrayLiteral`). */
export const withArrayLiterals = (params: readonly unknown[]): unknown[] =>
  params.map((param) => (Array.isArray(param) ? pgArrayLiteral(param) : param));
