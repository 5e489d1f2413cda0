import { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795710006556 implements MigrationInterface {
  name = 'Init1795710006556';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "api_keys" ("id" character varying(32) NOT NULL, "org_id" character varying(30) NOT NULL, "created_by" text NOT NULL, "name" text NOT NULL, "display_prefix" text NOT NULL, "secret_hash" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_by" text, CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "ix_api_keys_org_creator" ON "api_keys"  ("org_id", "created_by") ');
    await queryRunner.query(
      'CREATE TABLE "ledger_entries" ("seq" BIGSERIAL NOT NULL, "org_id" character varying(30) NOT NULL, "package_id" uuid, "kind" text NOT NULL, "entry_type" text NOT NULL, "amount" bigint NOT NULL, "event_source" text NOT NULL, "event_id" text NOT NULL, "action" text, "key_id" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7c28bbc465af6958ac83a17db40" PRIMARY KEY ("seq"))',
    );
    await queryRunner.query('CREATE INDEX "ix_ledger_entries_org_seq" ON "ledger_entries"  ("org_id", "seq") ');
    await queryRunner.query(
      'CREATE TABLE "organizations" ("id" character varying(30) NOT NULL, "name" text NOT NULL, "plan" text NOT NULL DEFAULT \'free\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6b031fcd0863e3f6b44230163f9" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "packages" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" character varying(30) NOT NULL, "sandbox_ms_granted" bigint NOT NULL, "sandbox_ms_remaining" bigint NOT NULL, "agent_mc_granted" bigint NOT NULL, "agent_mc_remaining" bigint NOT NULL, "priority" integer NOT NULL DEFAULT \'0\', "not_before" TIMESTAMP WITH TIME ZONE, "not_after" TIMESTAMP WITH TIME ZONE, "granted_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "source" text NOT NULL, "external_id" text, CONSTRAINT "PK_020801f620e21f943ead9311c98" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "uq_packages_org_external" ON "packages"  ("org_id", "external_id") ');
    await queryRunner.query(
      'CREATE TABLE "processed_events" ("source" text NOT NULL, "id" text NOT NULL, "topic" text NOT NULL, "partition" integer NOT NULL, "kafka_offset" bigint NOT NULL, "processed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_07a43552d54fabe6d3ea298284b" PRIMARY KEY ("source", "id"))',
    );
    // TypeORM cannot declare NULLS NOT DISTINCT: an overage entry has no package, and must still be unique.
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_ledger_entries_event" ON "ledger_entries" ("event_source", "event_id", "package_id", "kind", "entry_type") NULLS NOT DISTINCT',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "uq_ledger_entries_event"');
    await queryRunner.query('DROP TABLE "processed_events"');
    await queryRunner.query('DROP INDEX "public"."uq_packages_org_external"');
    await queryRunner.query('DROP TABLE "packages"');
    await queryRunner.query('DROP TABLE "organizations"');
    await queryRunner.query('DROP INDEX "public"."ix_ledger_entries_org_seq"');
    await queryRunner.query('DROP TABLE "ledger_entries"');
    await queryRunner.query('DROP INDEX "public"."ix_api_keys_org_creator"');
    await queryRunner.query('DROP TABLE "api_keys"');
  }
}
