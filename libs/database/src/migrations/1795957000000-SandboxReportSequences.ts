import { MigrationInterface, QueryRunner } from 'typeorm';

/** Runtime reports deduplicated by (org, sandbox, sequence) as well as by (source, id): docs/EVENTS.md. */
export class SandboxReportSequences1795957000000 implements MigrationInterface {
  name = 'SandboxReportSequences1795957000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "sandbox_report_sequences" ("org_id" character varying(30) NOT NULL, "sandbox_id" text NOT NULL, "sequence" integer NOT NULL, CONSTRAINT "PK_aab40c3789d461c34dd357690bf" PRIMARY KEY ("org_id", "sandbox_id", "sequence"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "sandbox_report_sequences"');
  }
}
