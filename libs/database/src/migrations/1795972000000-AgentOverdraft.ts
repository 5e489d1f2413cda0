import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * agent.run reservations (issue 10 item 6): a per-org agent overdraft limit, versioned from the
 * ledger sequence so the Redis balance moves when it changes, and an index for the org's agent
 * overage (the debt admission counts).
 */
export class AgentOverdraft1795972000000 implements MigrationInterface {
  name = 'AgentOverdraft1795972000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "organizations" ADD "agent_overdraft_mc" bigint NOT NULL DEFAULT \'0\'');
    await queryRunner.query('ALTER TABLE "organizations" ADD "overdraft_version" bigint NOT NULL DEFAULT \'0\'');
    await queryRunner.query(
      'CREATE INDEX "ix_ledger_entries_org_agent_overage" ON "ledger_entries" ("org_id") WHERE kind = \'agent\' AND package_id IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."ix_ledger_entries_org_agent_overage"');
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "overdraft_version"');
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "agent_overdraft_mc"');
  }
}
