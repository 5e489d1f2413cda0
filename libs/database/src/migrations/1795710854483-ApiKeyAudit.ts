import { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeyAudit1795710854483 implements MigrationInterface {
  name = 'ApiKeyAudit1795710854483';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "api_key_audit" ("id" character varying(26) NOT NULL, "org_id" character varying(30) NOT NULL, "key_id" character varying(32) NOT NULL, "action" character varying(16) NOT NULL, "actor_user_id" text NOT NULL, "actor_role" character varying(16) NOT NULL, "key_owner_id" text NOT NULL, "source_address" text, "user_agent" text, "request_id" text, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_582014159735e16f77d1ab68151" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "ix_api_key_audit_key" ON "api_key_audit"  ("key_id") ');
    await queryRunner.query('CREATE INDEX "ix_api_key_audit_org_time" ON "api_key_audit"  ("org_id", "occurred_at") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."ix_api_key_audit_org_time"');
    await queryRunner.query('DROP INDEX "public"."ix_api_key_audit_key"');
    await queryRunner.query('DROP TABLE "api_key_audit"');
  }
}
