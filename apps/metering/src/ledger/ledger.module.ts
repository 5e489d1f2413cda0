import { Module } from '@nestjs/common';
import { OutboxSignal } from '../outbox/outbox-signal';
import { LedgerDatabase } from './ledger.repository';
import { LedgerService } from './ledger.service';
import { PostingObservers } from './posting-observers';
import { ShapeCatalog } from './shape-catalog.service';

/**
 * The ledger: posting (LedgerService over LedgerDatabase), the shape prices it reads, the
 * observers told of each posting, and the signal that wakes the outbox relay. Everything that
 * posts or watches postings imports this module.
 */
@Module({
  providers: [ShapeCatalog, OutboxSignal, PostingObservers, LedgerDatabase, LedgerService],
  exports: [ShapeCatalog, OutboxSignal, PostingObservers, LedgerDatabase, LedgerService],
})
export class LedgerModule {}
