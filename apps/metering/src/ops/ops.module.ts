import { DynamicModule, Module } from '@nestjs/common';
import { ApiKeyGuardModule } from '@tally/api-key-guard';
import { MeteringConfig } from '../config/metering.config';
import { LedgerModule } from '../ledger/ledger.module';
import { OpsPageController } from '../ops-page/ops-page.controller';
import { PackagesModule } from '../packages/packages.module';
import { ApiOrgsController } from './api-orgs.controller';
import { ConsumerLagMonitor } from './consumer-lag.monitor';
import { DriftMonitor } from './drift.monitor';
import { FleetController } from './fleet.controller';
import { FleetService } from './fleet.service';
import { OpsPostingObserver } from './ops-posting.observer';
import { OpsController } from './ops.controller';
import { OpsService } from './ops.service';

/**
 * Metering's ops side: usage and balance reads (for services, and for API keys through auth's
 * verify), the ops page, consumer lag, drift and posting metrics.
 */
@Module({})
export class OpsModule {
  static forRoot(config: MeteringConfig): DynamicModule {
    return {
      module: OpsModule,
      imports: [
        LedgerModule,
        PackagesModule,
        ApiKeyGuardModule.forRoot({ authUrl: config.AUTH_URL, serviceToken: config.AUTH_SERVICE_TOKEN }),
      ],
      controllers: [OpsController, FleetController, ApiOrgsController, OpsPageController],
      providers: [OpsService, FleetService, ConsumerLagMonitor, DriftMonitor, OpsPostingObserver],
    };
  }
}
