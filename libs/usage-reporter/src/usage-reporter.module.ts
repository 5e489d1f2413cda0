import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { UsageReporter, UsageReporterOptions } from './usage-reporter';

/**
 * Import once in a runtime's Nest app: `UsageReporterModule.forRoot({brokers, source})`, then
 * inject `UsageReporter`. On shutdown (enableShutdownHooks) it flushes what is buffered.
 */
@Global()
@Module({})
export class UsageReporterModule implements OnApplicationShutdown {
  constructor(@Inject(UsageReporter) private readonly reporter: UsageReporter) {}

  static forRoot(options: UsageReporterOptions): DynamicModule {
    return {
      module: UsageReporterModule,
      providers: [{ provide: UsageReporter, useValue: new UsageReporter(options) }],
      exports: [UsageReporter],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reporter.close();
  }
}
