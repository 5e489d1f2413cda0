/**
 * At most `maxConcurrent` key lookups in PostgreSQL at a time, `maxQueued` more waiting (those of
 * callers that proved their secret first); beyond that a lookup is shed at once, so junk keys,
 * a Redis outage or a slow database cannot pile work onto PostgreSQL or memory.
 */
export class LookupGate {
  private running = 0;
  private readonly waiting: { proven: Array<() => void>; unproven: Array<() => void> } = { proven: [], unproven: [] };

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  /** Runs `work` in a slot; undefined (without running it) when shed. */
  async run<T>(proven: boolean, work: () => Promise<T>): Promise<T | undefined> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.proven.length + this.waiting.unproven.length >= this.maxQueued) return undefined;
      await new Promise<void>((resolve) => this.waiting[proven ? 'proven' : 'unproven'].push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.proven.shift() ?? this.waiting.unproven.shift();
      if (next) next();
      else this.running--;
    }
  }
}
