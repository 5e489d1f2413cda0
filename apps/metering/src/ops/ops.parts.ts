import { Provider, Type } from '@nestjs/common';
import { ApiKeyGuardModule } from '@tally/api-key-guard';
import { Topics, topicName } from '@tally/contracts';
import { AlertService } from '../alerts/alert.service';
import { MeteringConfig } from '../config/metering.config';
import { alertsConsumerController } from '../notifier/alerts-consumer.controller';
import { NotifierService } from '../notifier/notifier.service';
import { WebhooksController } from '../notifier/webhooks.controller';
import { OpsPageController } from '../ops-page/ops-page.controller';
import { ApiOrgsController } from './api-orgs.controller';
import { ConsumerLagMonitor } from './consumer-lag.monitor';
import { DriftMonitor } from './drift.monitor';
import { OpsPostingObserver } from './ops-posting.observer';
import { OpsController } from './ops.controller';
import { OpsService } from './ops.service';

/**
 * Metering's ops side (ops reads, API-key reads, depletion alerts, the notifier, the ops page,
 * metrics), spread into MeteringModule: its services need the ledger's providers.
 */
export function opsParts(config: MeteringConfig) {
  return {
    imports: [ApiKeyGuardModule.forRoot({ authUrl: config.AUTH_URL, serviceToken: config.AUTH_SERVICE_TOKEN })],
    controllers: [
      OpsController,
      ApiOrgsController,
      WebhooksController,
      OpsPageController,
      alertsConsumerController(topicName(config.KAFKA_TOPIC_PREFIX, Topics.alerts)),
    ] as Type<unknown>[],
    providers: [
      OpsService,
      ConsumerLagMonitor,
      DriftMonitor,
      OpsPostingObserver,
      AlertService,
      NotifierService,
    ] as Provider[],
  };
}
