import { Injectable } from '@nestjs/common';

/** Wakes the outbox relay right after a batch committed rows (instead of waiting for its poll). */
@Injectable()
export class OutboxSignal {
  private waiter?: () => void;

  notify(): void {
    this.waiter?.();
    this.waiter = undefined;
  }

  /** Resolves on the next notify, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
