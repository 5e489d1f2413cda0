import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's replay guard leads with the organization, like every key Tally writes by org, so
 * the table can be distributed by org_id (docs/SCALE.md: a distributed table's unique indexes
 * must contain the distribution column). Same guarantee: an event belongs to one org. Hand-written:
 * TypeORM cannot express NULLS NOT DISTINCT (the index is `synchronize: false` in the entity).
 */
export class LedgerEventKeyByOrg1795955493335 implements MigrationInterface {
  name = 'LedgerEventKeyByOrg1795955493335';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "uq_ledger_entries_event"');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_ledger_entries_event" ON "ledger_entries" ("org_id", "event_source", "event_id", "package_id", "kind", "entry_type") NULLS NOT DISTINCT',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "uq_ledger_entries_event"');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_ledger_entries_event" ON "ledger_entries" ("event_source", "event_id", "package_id", "kind", "entry_type") NULLS NOT DISTINCT',
    );
  }
}
