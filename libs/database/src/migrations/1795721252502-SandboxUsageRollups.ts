import { MigrationInterface, QueryRunner } from 'typeorm';

export class SandboxUsageRollups1795721252502 implements MigrationInterface {
  name = 'SandboxUsageRollups1795721252502';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Generated, then INCLUDE added by hand (TypeORM cannot express it): the counters in the
    // primary key make the groupBy=sandbox series an index-only scan; see docs/BENCHMARKS.md.
    await queryRunner.query(
      'CREATE TABLE "sandbox_usage_rollups" ("org_id" character varying(30) NOT NULL, "hour" TIMESTAMP WITH TIME ZONE NOT NULL, "sandbox_id" text NOT NULL, "event_count" bigint NOT NULL DEFAULT \'0\', "sandbox_ms" bigint NOT NULL DEFAULT \'0\', "agent_mc" bigint NOT NULL DEFAULT \'0\', CONSTRAINT "PK_b815adabed6efd94e0dbdf4b390" PRIMARY KEY ("org_id", "hour", "sandbox_id") INCLUDE ("event_count", "sandbox_ms", "agent_mc"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "sandbox_usage_rollups"');
  }
}
