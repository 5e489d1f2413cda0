// What the benchmarks read about a process from /proc (Linux).
'use strict';
const { readFileSync } = require('node:fs');

/** CPU seconds (user + system) the process has used so far; NaN once it is gone. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in 100 Hz ticks
  } catch {
    return NaN;
  }
}

/**
 * Seconds the process's main thread (for Node, the event loop) spent runnable but waiting for a
 * core: the machine's share of a latency tail, as opposed to the process's own work.
 */
function runQueueWaitSeconds(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return NaN;
  }
}

module.exports = { cpuSeconds, runQueueWaitSeconds };
