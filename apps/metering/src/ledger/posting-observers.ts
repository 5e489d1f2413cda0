import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { MeteringEvent } from './metering-event';

/** What a posting changed, seen from inside its transaction. */
export interface PostedChange {
  /** The posting's transaction: an observer's writes commit or roll back with the ledger's. */
  manager: EntityManager;
  /** Organizations whose balance may have changed (their rows are locked by this transaction). */
  orgIds: string[];
  /** The fresh (first-seen) events posted; empty for a grant. */
  events: MeteringEvent[];
}

export interface PostingObserver {
  afterPosting(change: PostedChange): Promise<void>;
}

/**
 * The ledger's extension point: modules that must act in the same transaction as a posting
 * (depletion alerts, resource counts, metrics) register here instead of being wired into the
 * posting code. Observers run in registration order; a throw rolls the posting back (retried).
 */
@Injectable()
export class PostingObservers {
  private readonly observers: PostingObserver[] = [];

  register(observer: PostingObserver): void {
    this.observers.push(observer);
  }

  async afterPosting(change: PostedChange): Promise<void> {
    for (const observer of this.observers) await observer.afterPosting(change);
  }
}
