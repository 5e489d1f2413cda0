import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { AlertService } from './alert.service';

/** Depletion alerts: a posting observer that writes alert events to the outbox. */
@Module({
  imports: [LedgerModule],
  providers: [AlertService],
})
export class AlertsModule {}
