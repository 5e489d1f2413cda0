import { UsageEventTypes } from '@tally/contracts';
import { createKafka, EventPublisher } from '@tally/kafka';
import {
  agentEvent,
  AgentReport,
  BuiltUsageEvent,
  sandboxEvent,
  SandboxReport,
  SandboxReportType,
  UsageReportInvalid,
} from './usage-events';

export interface UsageReporterOptions {
  /** Kafka bootstrap brokers, `host:port`. */
  brokers: string[];
  /** CloudEvents `source` of this runtime, e.g. `//sandbox-runtime/eu-west-1`: with the id, the idempotency key. Keep it stable across restarts. */
  source: string;
  /** Prefix of the topic names (tests; empty in production). */
  topicPrefix?: string;
  clientId?: string;
  /** Events sent in one produce call (default 500). */
  maxBatchEvents?: number;
  /** How long an event waits for others to share its produce call (default 20 ms). */
  lingerMs?: number;
  /** Events accepted but not yet acknowledged by Kafka, at most (default 10,000; ~4 MB). */
  maxBufferedEvents?: number;
  /** First and longest pause between attempts while Kafka fails (defaults 100 ms and 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Where delivery trouble is reported (default: console.warn/error). */
  logger?: { warn(message: string): void; error(message: string): void };
}

/** The buffer is full (Kafka has been unreachable for a while): the report was not accepted. */
export class UsageReporterFull extends Error {
  constructor(readonly buffered: number) {
    super(`usage reporter buffer full (${buffered} events not yet acknowledged by Kafka): report refused`);
    this.name = 'UsageReporterFull';
  }
}

export interface Reported {
  /** The event's CloudEvents id (deterministic: the same report has the same id). */
  id: string;
  sequence?: number;
}

export interface UsageReporterStats {
  buffered: number;
  sent: number;
  refused: number;
  failedAttempts: number;
  lastError?: string;
}

type SandboxRef = Pick<SandboxReport, 'orgId' | 'sandboxId' | 'shape'>;
type SandboxRuntime = SandboxRef & { runtimeMs: number; sequence?: number };

/**
 * What a sandbox or agent runtime reports to Tally (`usage.sandbox.v1`, `usage.agent.v1`), as
 * valid CloudEvents with deterministic ids. Reports are accepted at once (validated against the
 * contract, then buffered) and sent in the background in batches, in order, retried with
 * exponential backoff while Kafka fails. Memory is bounded: past `maxBufferedEvents` unacknowledged
 * events a report is refused with UsageReporterFull, and nothing accepted is ever dropped (see
 * README "Upstream reporter"). `close()` on shutdown flushes what is buffered.
 */
export class UsageReporter {
  private readonly publisher: EventPublisher;
  private readonly queue: BuiltUsageEvent[] = [];
  /** Next sequence per running sandbox (`orgId/sandboxId`); dropped when it stops. */
  private readonly sequences = new Map<string, number>();
  private readonly counters = { sent: 0, refused: 0, failedAttempts: 0 };
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private closed = false;
  private readonly settings: Required<Omit<UsageReporterOptions, 'logger' | 'clientId'>>;
  private readonly logger: NonNullable<UsageReporterOptions['logger']>;

  constructor(options: UsageReporterOptions) {
    this.settings = {
      brokers: options.brokers,
      source: options.source,
      topicPrefix: options.topicPrefix ?? '',
      maxBatchEvents: options.maxBatchEvents ?? 500,
      lingerMs: options.lingerMs ?? 20,
      maxBufferedEvents: options.maxBufferedEvents ?? 10_000,
      initialBackoffMs: options.initialBackoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
    };
    this.logger = options.logger ?? { warn: (m) => console.warn(m), error: (m) => console.error(m) };
    const kafka = createKafka(options.clientId ?? 'tally-usage-reporter', options.brokers);
    // The idempotent producer retries a produce request itself, unbounded, with this backoff.
    this.publisher = new EventPublisher(kafka, {
      retries: Number.MAX_SAFE_INTEGER,
      initialRetryTime: this.settings.initialBackoffMs,
      maxRetryTime: this.settings.maxBackoffMs,
    });
  }

  /** Sequence 0 of a new sandbox. */
  sandboxStarted(sandbox: SandboxRef): Reported {
    return this.sandbox(UsageEventTypes.sandboxStarted, { ...sandbox, runtimeMs: 0, sequence: 0 });
  }

  /** Runtime since the previous report; the sequence is counted unless given. */
  heartbeat(sandbox: SandboxRuntime): Reported {
    return this.sandbox(UsageEventTypes.sandboxHeartbeat, sandbox);
  }

  /** The last report of a sandbox: the runtime since the previous one; its hold is released. */
  sandboxStopped(sandbox: SandboxRuntime): Reported {
    const reported = this.sandbox(UsageEventTypes.sandboxStopped, sandbox);
    this.sequences.delete(`${sandbox.orgId}/${sandbox.sandboxId}`);
    return reported;
  }

  /** Milli-credits one step of an agent run consumed; the same (runId, step) again is a duplicate. */
  agentConsumed(report: AgentReport): Reported {
    const event = agentEvent(this.settings.source, this.settings.topicPrefix, report, new Date());
    this.accept(event);
    return { id: event.id };
  }

  stats(): UsageReporterStats {
    return { buffered: this.queue.length, ...this.counters, lastError: this.lastError };
  }

  /** Resolves once every accepted event is acknowledged by Kafka; false if `timeoutMs` passed first. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = (async () => {
      while (this.queue.length > 0) await this.drain();
      return true as const;
    })();
    try {
      return await Promise.race([drained, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Refuses new reports, flushes, disconnects; logs what Kafka did not take within the timeout. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    const flushed = await this.flush(timeoutMs);
    if (!flushed)
      this.logger.error(`usage reporter closed with ${this.queue.length} events unsent (Kafka: ${this.lastError})`);
    clearTimeout(this.timer);
    await this.publisher.disconnect().catch(() => undefined);
  }

  private sandbox(type: SandboxReportType, sandbox: SandboxRuntime): Reported {
    const key = `${sandbox.orgId}/${sandbox.sandboxId}`;
    const sequence = sandbox.sequence ?? this.sequences.get(key);
    if (sequence === undefined) {
      throw new UsageReportInvalid(
        `data.sequence: this reporter has not seen sandbox ${sandbox.sandboxId} start; pass its sequence`,
      );
    }
    const event = sandboxEvent(
      this.settings.source,
      this.settings.topicPrefix,
      type,
      { ...sandbox, sequence },
      new Date(),
    );
    this.accept(event);
    this.sequences.set(key, sequence + 1);
    return { id: event.id, sequence };
  }

  private accept(event: BuiltUsageEvent): void {
    if (this.closed) throw new Error('usage reporter is closed');
    if (this.queue.length >= this.settings.maxBufferedEvents) {
      this.counters.refused += 1;
      throw new UsageReporterFull(this.queue.length);
    }
    this.queue.push(event);
    if (!this.draining && !this.timer) {
      const delay = this.queue.length >= this.settings.maxBatchEvents ? 0 : this.settings.lingerMs;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.drain();
      }, delay);
    }
  }

  /** One sender at a time: batches leave in order, the failed one first again. */
  private drain(): Promise<void> {
    this.draining ??= this.sendAll().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async sendAll(): Promise<void> {
    let backoff = this.settings.initialBackoffMs;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.settings.maxBatchEvents);
      try {
        await this.publisher.publish(...batch.map(({ topic, key, value }) => ({ topic, key, value })));
        this.queue.splice(0, batch.length);
        this.counters.sent += batch.length;
        backoff = this.settings.initialBackoffMs;
      } catch (error) {
        this.counters.failedAttempts += 1;
        this.lastError = (error as Error).message;
        this.logger.warn(
          `usage reporter: ${batch.length} events not sent, retrying in ${backoff} ms: ${this.lastError}`,
        );
        await new Promise((resolve) => setTimeout(resolve, backoff * (0.5 + Math.random() / 2)));
        backoff = Math.min(this.settings.maxBackoffMs, backoff * 2);
      }
    }
  }
}
