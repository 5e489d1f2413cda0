/**
 * Retries an assertion until it passes or the deadline passes, then throws the last failure.
 * Asynchronous effects (Kafka → PostgreSQL → Redis) are awaited this way, never with fixed sleeps.
 */
export async function expectEventually<T>(
  assertion: () => T | Promise<T>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const message = lastError instanceof Error ? lastError.message : String(lastError);
      throw Object.assign(new Error(`not satisfied within ${timeoutMs} ms: ${message}`), { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
