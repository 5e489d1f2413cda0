/**
 * kafkajs 2.2.4's request queue, idle and unthrottled, schedules its next check at
 * `throttledUntil - Date.now()` with `throttledUntil = -1`: a negative delay, which Node 24 reports
 * as a `TimeoutNegativeWarning` in every process that produces. The same method with the delay
 * clamped at zero (Node clamps it anyway), installed on the prototype of the one RequestQueue class
 * every kafkajs client of this process shares, so it holds for clients made before or after.
 */
import { createRequire } from 'node:module';

/** kafkajs' own interval for re-checking a queue that has requests pending (requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

interface RequestQueueState {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
}

export function nextCheckDelayMs(throttledUntil: number, pending: number, now: number): number {
  const throttledFor = throttledUntil - now;
  if (throttledFor > 0) return throttledFor;
  return pending > 0 ? CHECK_PENDING_REQUESTS_INTERVAL_MS : 0;
}

function scheduleCheckPendingRequests(this: RequestQueueState): void {
  if (this.throttleCheckTimeoutId) return;
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    nextCheckDelayMs(this.throttledUntil, this.pending.length, Date.now()),
  );
}

const requireFromKafkajs = createRequire(require.resolve('kafkajs'));
const RequestQueue = requireFromKafkajs('./src/network/requestQueue') as {
  prototype: { scheduleCheckPendingRequests: () => void };
};
if (typeof RequestQueue.prototype.scheduleCheckPendingRequests !== 'function') {
  throw new Error(
    'kafkajs RequestQueue.scheduleCheckPendingRequests not found: re-check libs/kafka/src/request-queue-timeout.ts',
  );
}
RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
