import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createDataSource, DatabaseOptions } from './data-source';
import { runMigrations } from './migrate';

export const DATA_SOURCE = Symbol('DATA_SOURCE');

class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DATA_SOURCE) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

@Global()
@Module({})
export class DatabaseModule {
  /** `migrate`: apply pending migrations at start (under the advisory lock). */
  static forRoot(options: DatabaseOptions & { migrate?: boolean }): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DATA_SOURCE,
          useFactory: async () => {
            const dataSource = await createDataSource(options).initialize();
            if (options.migrate) await runMigrations(dataSource);
            return dataSource;
          },
        },
        DataSourceCloser,
      ],
      exports: [DATA_SOURCE],
    };
  }
}

export const postgresHealth = (dataSource: DataSource) => ({
  name: 'postgres',
  check: () => dataSource.query('SELECT 1'),
});
