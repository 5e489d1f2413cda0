import { MigrationInterface, QueryRunner } from 'typeorm';

/** Revocations whose Redis overwrite has not landed yet, retried by every auth instance (issue 11, finding 3). */
export class PendingRevocations1795964394590 implements MigrationInterface {
  name = 'PendingRevocations1795964394590';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "pending_revocations" ("key_id" character varying(32) NOT NULL, "org_id" character varying(30) NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1f304c9ae66990a4c2c7c40666f" PRIMARY KEY ("key_id", "org_id"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "pending_revocations"');
  }
}
