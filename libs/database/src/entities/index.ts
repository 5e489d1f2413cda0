import { ApiKeyEntity } from './api-key.entity';
import { LedgerEntryEntity } from './ledger-entry.entity';
import { OrganizationEntity } from './organization.entity';
import { PackageEntity } from './package.entity';
import { ProcessedEventEntity } from './processed-event.entity';

export * from './api-key.entity';
export * from './bigint.transformer';
export * from './ledger-entry.entity';
export * from './organization.entity';
export * from './package.entity';
export * from './processed-event.entity';

/** Registered explicitly: bundlers break TypeORM's glob discovery. */
export const ENTITIES = [OrganizationEntity, ApiKeyEntity, PackageEntity, LedgerEntryEntity, ProcessedEventEntity];
