// Open-loop HTTP load at a fixed rate, shared by the benchmarks that have a latency target at a
// rate (bench/admission, bench/verify).
//
// Why not autocannon's `overallRate`: it hands each connection its share of the second and lets
// it send that share back to back, so every second starts with a burst and its percentiles
// measure its own bursts; and it cannot exceed connections / latency (coordinated omission).
// Here requests leave on schedule (every millisecond, all those due) whatever the answers do; a
// request waiting for a free connection waits on the clock. undici keeps the load generator's own
// CPU low (Node's http client costs about twice as much per request), which matters when the
// generator shares two cores with the system under test.
/* global performance */
'use strict';
const { Pool } = require('undici');
const { setTimeout: sleep } = require('node:timers/promises');

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (ms) => Math.round(ms * 100) / 100;

/** p50/p99/p99.9/max (ms, 2 decimals) of a list of latencies. */
function latencySummary(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    p999: round(percentile(sorted, 99.9)),
    max: round(sorted[sorted.length - 1]),
  };
}

/**
 * Sends `rate` POSTs a second for `seconds` to `origin + path`. `next(n)` gives the n-th request:
 * `{ body, tag? }`; latencies of 2xx answers are reported overall and per tag.
 */
async function openLoop({ origin, path, headers, rate, seconds, next, connections = 64 }) {
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies = [];
  const byTag = {};
  const statuses = {};
  // Worst latency per 100 ms of send time: tells a few stalls from a steady queue.
  const worstByWindow = new Map();
  let errors = 0;
  let runStart = 0;
  const one = async (n) => {
    const { body, tag } = next(n);
    const started = performance.now();
    try {
      const response = await pool.request({ path, method: 'POST', headers, body });
      await response.body.dump();
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      if (response.statusCode >= 200 && response.statusCode < 300) {
        const latency = performance.now() - started;
        latencies.push(latency);
        if (tag) (byTag[tag] ??= []).push(latency);
        const window = Math.floor((started - runStart) / 100);
        worstByWindow.set(window, Math.max(worstByWindow.get(window) ?? 0, latency));
      } else {
        errors++;
      }
    } catch {
      errors++;
    }
  };
  const pending = new Set();
  const started = performance.now();
  runStart = started;
  const end = started + seconds * 1000;
  let sent = 0;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const request = one(sent).finally(() => pending.delete(request));
      pending.add(request);
    }
    await sleep(1);
  }
  await Promise.all(pending);
  await pool.close();
  const slowWindows = [...worstByWindow.values()].filter((worst) => worst > 10).length;
  const tags = Object.fromEntries(Object.entries(byTag).map(([tag, list]) => [tag, latencySummary(list).p99]));
  return {
    sent,
    requests: latencies.length,
    perSecond: Math.round(latencies.length / seconds),
    ...latencySummary(latencies),
    errors,
    statuses,
    p99ByTag: tags,
    /** How many of the run's 100 ms windows saw an answer slower than 10 ms. */
    slowWindows: `${slowWindows} of ${worstByWindow.size}`,
  };
}

module.exports = { openLoop, latencySummary, percentile };
