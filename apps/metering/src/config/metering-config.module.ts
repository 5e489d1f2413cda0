import { DynamicModule, Global, Module } from '@nestjs/common';
import { METERING_CONFIG } from './metering-config.token';
import { MeteringConfig } from './metering.config';

/** Metering's validated configuration, injectable everywhere in the app as METERING_CONFIG. */
@Global()
@Module({})
export class MeteringConfigModule {
  static forRoot(config: MeteringConfig): DynamicModule {
    return {
      module: MeteringConfigModule,
      providers: [{ provide: METERING_CONFIG, useValue: config }],
      exports: [METERING_CONFIG],
    };
  }
}
