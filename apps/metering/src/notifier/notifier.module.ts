import { DynamicModule, Module } from '@nestjs/common';
import { Topics, topicName } from '@tally/contracts';
import { MeteringConfig } from '../config/metering.config';
import { alertsConsumerController } from './alerts-consumer.controller';
import { NotifierService } from './notifier.service';
import { WebhooksController } from './webhooks.controller';

/** Webhook endpoints and the delivery of alerts to them, fed by the alerts topic. */
@Module({})
export class NotifierModule {
  static forRoot(config: MeteringConfig): DynamicModule {
    return {
      module: NotifierModule,
      controllers: [WebhooksController, alertsConsumerController(topicName(config.KAFKA_TOPIC_PREFIX, Topics.alerts))],
      providers: [NotifierService],
    };
  }
}
