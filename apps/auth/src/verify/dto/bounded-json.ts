/**
 * Bounds of a caller-supplied JSON value that travels in an event (verify's `params`): deep or
 * wide values cost every consumer, and control characters break logs and downstream parsers.
 */
export const PARAMS_BOUNDS = {
  /** Nesting depth: the object itself is depth 1. */
  maxDepth: 4,
  /** Object keys and array items, counted over the whole value. */
  maxEntries: 64,
  /** Serialized (JSON, UTF-8) size. */
  maxBytes: 4_096,
  /** Length of one key. */
  maxKeyLength: 64,
} as const;

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
export const hasControlCharacters = (text: string): boolean => CONTROL.test(text);

/** Why `value` (at `path`) is outside PARAMS_BOUNDS, with the offending field's path; undefined when within. */
export function outOfBounds(value: unknown, path: string): { field: string; reason: string } | undefined {
  const budget = { entries: 0 };
  const found = walk(value, path, 1, budget);
  if (found) return found;
  if (Buffer.byteLength(JSON.stringify(value)) > PARAMS_BOUNDS.maxBytes)
    return { field: path, reason: `${path} must serialize to at most ${PARAMS_BOUNDS.maxBytes} bytes` };
  return undefined;
}

function walk(
  value: unknown,
  path: string,
  depth: number,
  budget: { entries: number },
): { field: string; reason: string } | undefined {
  if (typeof value === 'string')
    return hasControlCharacters(value)
      ? { field: path, reason: `${path} must not contain control characters` }
      : undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : { field: path, reason: `${path} must be finite` };
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > PARAMS_BOUNDS.maxDepth)
    return { field: path, reason: `${path} nests deeper than ${PARAMS_BOUNDS.maxDepth} levels` };
  const entries = Array.isArray(value) ? value.map((item, i) => [String(i), item] as const) : Object.entries(value);
  budget.entries += entries.length;
  if (budget.entries > PARAMS_BOUNDS.maxEntries)
    return { field: path, reason: `${path} has more than ${PARAMS_BOUNDS.maxEntries} keys and items in all` };
  for (const [key, item] of entries) {
    if (key.length > PARAMS_BOUNDS.maxKeyLength || hasControlCharacters(key))
      return {
        field: path,
        reason: `${path} has a key longer than ${PARAMS_BOUNDS.maxKeyLength} characters or with control characters`,
      };
    // The path names the field without echoing arbitrary request bytes back.
    const label = /^[A-Za-z0-9_-]+$/.test(key) ? key : '*';
    const found = walk(item, Array.isArray(value) ? `${path}[${key}]` : `${path}.${label}`, depth + 1, budget);
    if (found) return found;
  }
  return undefined;
}
