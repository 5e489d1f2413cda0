import { Controller, Type } from '@nestjs/common';
import { Ctx, EventPattern, KafkaContext, Payload } from '@nestjs/microservices';
import { ApiExcludeController } from '@nestjs/swagger';
import { NotifierService } from './notifier.service';

/**
 * The `metering.alerts.v1` consumer, served by the Nest Kafka transport (low volume). The topic
 * carries the deployment's prefix, known only at boot, so the class is made per topic.
 */
export function alertsConsumerController(topic: string): Type<unknown> {
  @ApiExcludeController()
  @Controller()
  class AlertsConsumerController {
    constructor(private readonly notifier: NotifierService) {}

    @EventPattern(topic)
    handle(@Payload() alert: object, @Ctx() context: unknown): Promise<void> {
      return this.notifier.accept(alert, (context as KafkaContext).getTopic());
    }
  }
  return AlertsConsumerController;
}
