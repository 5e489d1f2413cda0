import { Logger } from '@nestjs/common';
import type { Logger as OrmLogger } from 'typeorm';

/**
 * TypeORM's log lines through Nest's logger (so the app's JSON lines; issue 16) instead of its
 * console logger's plain text. Only errors, slow queries and warnings: queries are not logged
 * (parameters may hold credentials' hashes).
 */
export class TypeOrmJsonLogger implements OrmLogger {
  private readonly logger = new Logger('TypeORM');

  logQuery(): void {}

  logQueryError(error: string | Error, query: string): void {
    this.logger.error({ err: error, query: query.slice(0, 500) }, 'query failed');
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn({ ms: time, query: query.slice(0, 500) }, 'slow query');
  }

  // Schema and migration chatter stays off, as with `logging: ['error', 'warn']` before.
  logSchemaBuild(): void {}

  logMigration(): void {}

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn({ detail: message }, 'typeorm warning');
  }
}
