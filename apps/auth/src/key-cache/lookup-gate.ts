/** Why a lookup was not run: the rate of unproven lookups, or every slot and queue place taken. */
export type ShedReason = 'rate' | 'queue';

export type GateResult<T> = { ran: true; value: T } | { ran: false; shed: ShedReason };

type Waiter = (go: boolean) => void;

/**
 * The PostgreSQL key lookups of one instance, capped as a whole (the throttles bound them per
 * address and per gateway; junk keys from many of both are bounded here): at most `maxConcurrent`
 * at a time and `maxQueued` more waiting, and at most `maxUnprovenPerSecond` started by callers
 * that have not proven their secret to this instance. A proven caller (one whose secret this
 * instance has seen prove the key) is never shed: it waits ahead of the unproven ones, and when
 * the queue is full the newest unproven waiter is shed in its place.
 */
export class LookupGate {
  private running = 0;
  private readonly waiting: { proven: Waiter[]; unproven: Waiter[] } = { proven: [], unproven: [] };
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
    private readonly maxUnprovenPerSecond: number = Number.POSITIVE_INFINITY,
  ) {
    this.tokens = maxUnprovenPerSecond;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Runs `work` in a slot, or says why it was shed (without running it). */
  async run<T>(proven: boolean, work: () => Promise<T>): Promise<GateResult<T>> {
    if (!proven && !this.takeToken()) return { ran: false, shed: 'rate' };
    if (this.running < this.maxConcurrent) this.running++;
    else if (!(await this.waitForSlot(proven))) return { ran: false, shed: 'queue' };
    try {
      return { ran: true, value: await work() };
    } finally {
      const next = this.waiting.proven.shift() ?? this.waiting.unproven.shift();
      if (next) next(true);
      else this.running--;
    }
  }

  /** Resolves true once a slot is handed over, false when shed from (or never let into) the queue. */
  private waitForSlot(proven: boolean): Promise<boolean> {
    const queued = this.waiting.proven.length + this.waiting.unproven.length;
    if (queued >= this.maxQueued) {
      if (!proven) return Promise.resolve(false);
      this.waiting.unproven.pop()?.(false);
    }
    return new Promise((resolve) => this.waiting[proven ? 'proven' : 'unproven'].push(resolve));
  }

  private takeToken(): boolean {
    if (this.maxUnprovenPerSecond === Number.POSITIVE_INFINITY) return true;
    const now = Date.now();
    this.tokens = Math.min(
      this.maxUnprovenPerSecond,
      this.tokens + ((now - this.refilledAt) / 1000) * this.maxUnprovenPerSecond,
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
