import { registerDependencyEndpoint } from '@tally/platform';
import { DataSource, DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { TypeOrmJsonLogger } from './typeorm-logger';

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
    logging: ['error', 'warn'],
    logger: new TypeOrmJsonLogger(),
    applicationName: options.applicationName ?? 'tally',
    // A connection not obtained within this (PostgreSQL unreachable, the pool exhausted) fails the
    // caller, which answers 503 naming PostgreSQL, rather than hanging it (issue 16); a PostgreSQL
    // that is down refuses at once. Not shorter: a busy machine's connect or pool wait must not fail.
    extra: { max: options.poolSize ?? 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS },
  };
}

export const CONNECT_TIMEOUT_MS = 5_000;

export function createDataSource(options: DatabaseOptions): DataSource {
  const { hostname, port } = new URL(options.url);
  registerDependencyEndpoint('postgres', hostname || 'localhost', Number(port || 5432));
  return new DataSource(dataSourceOptions(options));
}
