import { MigrationInterface, QueryRunner } from 'typeorm';

/** Organizations created, renamed, re-planned, suspended and resumed by the platform (docs/ORGANIZATIONS.md). */
export class OrganizationLifecycle1795970000000 implements MigrationInterface {
  name = 'OrganizationLifecycle1795970000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "organizations" ADD "status" character varying(20) NOT NULL DEFAULT 'active'`);
    await queryRunner.query('ALTER TABLE "organizations" ADD "suspended_reason" text');
    await queryRunner.query('ALTER TABLE "organizations" ADD "version" integer NOT NULL DEFAULT 1');
    await queryRunner.query(
      'ALTER TABLE "organizations" ADD "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "updated_at"');
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "version"');
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "suspended_reason"');
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "status"');
  }
}
