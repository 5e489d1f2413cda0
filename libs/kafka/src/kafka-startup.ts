import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { Kafka } from 'kafkajs';

export interface StartupStep {
  /** Named in the log and in /health/ready while it waits (e.g. 'topics', 'consumer'). */
  name: string;
  run(): Promise<void>;
}

export interface KafkaStartupOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * What an app does with Kafka before it is ready (create its topics, connect its producer, join its
 * consumer group), done in the background: the app listens at once, `/health/ready` answers 503
 * naming kafka meanwhile, and each step is retried with capped exponential backoff for as long as
 * the broker takes, never ending the process (issue 16). Steps run in order, each until it
 * succeeds; a step that succeeded is not run again.
 */
export class KafkaStartup implements OnApplicationShutdown {
  private readonly logger = new Logger(KafkaStartup.name);
  private readonly since = Date.now();
  private waitingFor?: string;
  private lastError?: string;
  private attempts = 0;
  private done = false;
  private stopped = false;
  private wake?: () => void;
  private running?: Promise<boolean>;

  constructor(private readonly options: KafkaStartupOptions = {}) {}

  /** Starts the steps in the background; the promise resolves true once all succeeded (false: stopped first). */
  start(steps: StartupStep[]): Promise<boolean> {
    this.running ??= this.runSteps(steps);
    return this.running;
  }

  /** Resolves once the steps are done (true) or the app shut down first (false). */
  whenDone(): Promise<boolean> {
    return this.running ?? Promise.resolve(false);
  }

  get ready(): boolean {
    return this.done;
  }

  /** /health/ready's kafka check: down (saying what it waits for and why) until the steps are done, then the cluster's answer. */
  health(kafka: Kafka, cluster: (kafka: Kafka) => Promise<unknown>) {
    return {
      name: 'kafka',
      check: async () => {
        if (!this.done) {
          const waited = Math.round((Date.now() - this.since) / 1000);
          throw new Error(
            `starting: waiting ${waited} s for the broker (${this.waitingFor ?? 'not started'}, attempt ${this.attempts})` +
              (this.lastError ? `: ${this.lastError}` : ''),
          );
        }
        return cluster(kafka);
      },
    };
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async runSteps(steps: StartupStep[]): Promise<boolean> {
    const initial = this.options.initialBackoffMs ?? 500;
    const max = this.options.maxBackoffMs ?? 5_000;
    for (const step of steps) {
      this.waitingFor = step.name;
      for (let failures = 0; ; failures++) {
        if (this.stopped) return false;
        this.attempts += 1;
        try {
          await step.run();
          break;
        } catch (error) {
          if (this.stopped) return false;
          this.lastError = (error as Error).message;
          const delay = Math.min(max, initial * 2 ** Math.min(failures, 10));
          this.logger.warn(
            { step: step.name, attempt: this.attempts, retryInMs: delay, err: error },
            'Kafka not reachable yet; retrying in the background',
          );
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      }
    }
    this.done = true;
    this.waitingFor = undefined;
    if (this.attempts > steps.length) {
      this.logger.log({ attempts: this.attempts, waitedMs: Date.now() - this.since }, 'Kafka reached; ready');
    }
    return true;
  }
}
