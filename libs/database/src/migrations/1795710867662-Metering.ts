import { MigrationInterface, QueryRunner } from 'typeorm';

export class Metering1795710867662 implements MigrationInterface {
  name = 'Metering1795710867662';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "holds" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" character varying(30) NOT NULL, "sandbox_id" text NOT NULL, "shape" text NOT NULL, "price_per_hour" text NOT NULL, "admission_id" text, "reserved_ms" bigint NOT NULL, "captured_ms" bigint NOT NULL DEFAULT \'0\', "overrun_ms" bigint NOT NULL DEFAULT \'0\', "placed" boolean NOT NULL DEFAULT true, "status" text NOT NULL DEFAULT \'active\', "last_sequence" integer NOT NULL DEFAULT \'-1\', "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "released_at" TIMESTAMP WITH TIME ZONE, "version" bigint NOT NULL DEFAULT \'0\', CONSTRAINT "PK_a8a21700a256e0267fb43f4f7ae" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "ix_holds_active_expiry" ON "holds"  ("expires_at") WHERE status = \'active\'',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "uq_holds_org_sandbox" ON "holds"  ("org_id", "sandbox_id") ');
    await queryRunner.query(
      'CREATE TABLE "outbox" ("id" BIGSERIAL NOT NULL, "topic" text NOT NULL, "message_key" text NOT NULL, "payload" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_340ab539f309f03bdaa14aa7649" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "plans" ("name" text NOT NULL, "tier" integer NOT NULL, "concurrent_sandboxes" integer NOT NULL, "sandbox_ms_included_per_month" bigint NOT NULL, "agent_mc_included_per_month" bigint NOT NULL, CONSTRAINT "PK_253d25dae4c94ee913bc5ec4850" PRIMARY KEY ("name"))',
    );
    await queryRunner.query(
      'CREATE TABLE "shapes" ("name" text NOT NULL, "price_per_hour" text NOT NULL, "required_plan_tier" integer NOT NULL DEFAULT \'0\', "description" text NOT NULL DEFAULT \'\', CONSTRAINT "PK_c7be6fe2382a3903591dc1d3602" PRIMARY KEY ("name"))',
    );
    await queryRunner.query(
      'CREATE TABLE "usage_rollups" ("org_id" character varying(30) NOT NULL, "hour" TIMESTAMP WITH TIME ZONE NOT NULL, "key_id" text NOT NULL, "action" text NOT NULL, "shape" text NOT NULL, "kind" text NOT NULL, "event_count" bigint NOT NULL DEFAULT \'0\', "sandbox_ms" bigint NOT NULL DEFAULT \'0\', "agent_mc" bigint NOT NULL DEFAULT \'0\', CONSTRAINT "PK_b6e9458fe844d0370cf95bc3fce" PRIMARY KEY ("org_id", "hour", "key_id", "action", "shape", "kind"))',
    );
    // Seeds: shapes and plans are data (ops may change them), not code.
    await queryRunner.query(
      `INSERT INTO "shapes" ("name", "price_per_hour", "required_plan_tier", "description") VALUES
        ('micro', '0.5', 0, '1 vCPU, 1 GiB'),
        ('small', '1', 0, '2 vCPU, 4 GiB'),
        ('medium', '2', 0, '4 vCPU, 8 GiB'),
        ('large', '4', 1, '8 vCPU, 16 GiB'),
        ('xlarge', '8', 2, '16 vCPU, 32 GiB'),
        ('gpu', '12.5', 2, '8 vCPU, 32 GiB, 1 GPU')`,
    );
    await queryRunner.query(
      `INSERT INTO "plans" ("name", "tier", "concurrent_sandboxes", "sandbox_ms_included_per_month", "agent_mc_included_per_month") VALUES
        ('free', 0, 2, 36000000, 100000),
        ('pro', 1, 10, 360000000, 1000000),
        ('team', 2, 50, 3600000000, 10000000),
        ('enterprise', 3, 500, 36000000000, 100000000)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "usage_rollups"');
    await queryRunner.query('DROP TABLE "shapes"');
    await queryRunner.query('DROP TABLE "plans"');
    await queryRunner.query('DROP TABLE "outbox"');
    await queryRunner.query('DROP INDEX "public"."uq_holds_org_sandbox"');
    await queryRunner.query('DROP INDEX "public"."ix_holds_active_expiry"');
    await queryRunner.query('DROP TABLE "holds"');
  }
}
