import { DataSource, DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

export function dataSourceOptions(options: DatabaseOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: options.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    uuidExtension: 'pgcrypto',
    migrationsRun: false,
    logging: ['error'],
    applicationName: options.applicationName ?? 'tally',
    extra: { max: options.poolSize ?? 10, connectionTimeoutMillis: 5_000 },
  };
}

export const createDataSource = (options: DatabaseOptions): DataSource => new DataSource(dataSourceOptions(options));
