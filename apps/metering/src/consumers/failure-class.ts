/**
 * PostgreSQL error classes that fail the same way however often they are retried: data
 * exceptions (22: NUL in text, numeric out of range), integrity constraint violations (23) and
 * program limits (54: an index row too large). Everything else (connection 08, deadlock and
 * serialization 40, operator intervention and timeouts 57, resources 53, Redis, Kafka) is transient.
 */
const DETERMINISTIC_SQLSTATE_CLASSES = new Set(['22', '23', '54']);

const sqlState = (error: unknown): string | null => {
  const candidate = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = candidate?.code ?? candidate?.driverError?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
};

/**
 * Whether a posting failure is deterministic (the event is poison: isolated and dead-lettered)
 * and why, or transient (null: the batch is retried as it is).
 */
export function classifyPostingFailure(error: unknown): { reason: string; reasonClass: string } | null {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError) return { reason: `RangeError: ${message}`, reasonClass: 'range' };
  const code = sqlState(error);
  if (code && DETERMINISTIC_SQLSTATE_CLASSES.has(code.slice(0, 2))) {
    return { reason: `PostgreSQL ${code}: ${message}`, reasonClass: `sqlstate-${code.slice(0, 2)}` };
  }
  return null;
}
