import { MigrationInterface, QueryRunner } from 'typeorm';

export class OpsAlerts1795711787412 implements MigrationInterface {
  name = 'OpsAlerts1795711787412';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "alert_states" ("org_id" character varying(30) NOT NULL, "kind" text NOT NULL, "thresholds" jsonb NOT NULL DEFAULT \'{}\'::jsonb, "forecast_fired" boolean NOT NULL DEFAULT false, "forecast_count" integer NOT NULL DEFAULT \'0\', "forecast_remaining" bigint, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5d9060a4acb48da2f6339e6c92d" PRIMARY KEY ("org_id", "kind"))',
    );
    await queryRunner.query(
      'CREATE TABLE "balance_alerts" ("id" text NOT NULL, "org_id" character varying(30) NOT NULL, "kind" text NOT NULL, "type" text NOT NULL, "threshold" text, "payload" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_752dfd0c631101fb7d36bd8ec10" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "ix_balance_alerts_org_created" ON "balance_alerts"  ("org_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "org_resource_counts" ("org_id" character varying(30) NOT NULL, "sandboxes" integer NOT NULL DEFAULT \'0\', "projects" integer NOT NULL DEFAULT \'0\', "mcp_servers" integer NOT NULL DEFAULT \'0\', CONSTRAINT "PK_b6243b0e2270025bef03fe5d306" PRIMARY KEY ("org_id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "webhook_attempts" ("id" BIGSERIAL NOT NULL, "endpoint_id" uuid NOT NULL, "delivery_id" bigint NOT NULL, "alert_id" text NOT NULL, "attempt" integer NOT NULL, "http_status" integer, "ok" boolean NOT NULL, "error" text, "duration_ms" integer NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2de7e7887ad97de459adab62638" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "ix_webhook_attempts_endpoint" ON "webhook_attempts"  ("endpoint_id", "id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "webhook_deliveries" ("id" BIGSERIAL NOT NULL, "endpoint_id" uuid NOT NULL, "alert_id" text NOT NULL, "payload" jsonb NOT NULL, "status" text NOT NULL DEFAULT \'pending\', "attempts" integer NOT NULL DEFAULT \'0\', "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "delivered_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_535dd409947fb6d8fc6dfc0112a" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "ix_webhook_deliveries_due" ON "webhook_deliveries"  ("status", "next_attempt_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_webhook_deliveries_endpoint_alert" ON "webhook_deliveries"  ("endpoint_id", "alert_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "webhook_endpoints" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "org_id" character varying(30), "url" text NOT NULL, "secret" text NOT NULL, "status" text NOT NULL DEFAULT \'active\', "consecutive_failures" integer NOT NULL DEFAULT \'0\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_054c4cfb95223732f5939d2d546" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "ix_webhook_endpoints_org" ON "webhook_endpoints"  ("org_id") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."ix_webhook_endpoints_org"');
    await queryRunner.query('DROP TABLE "webhook_endpoints"');
    await queryRunner.query('DROP INDEX "public"."uq_webhook_deliveries_endpoint_alert"');
    await queryRunner.query('DROP INDEX "public"."ix_webhook_deliveries_due"');
    await queryRunner.query('DROP TABLE "webhook_deliveries"');
    await queryRunner.query('DROP INDEX "public"."ix_webhook_attempts_endpoint"');
    await queryRunner.query('DROP TABLE "webhook_attempts"');
    await queryRunner.query('DROP TABLE "org_resource_counts"');
    await queryRunner.query('DROP INDEX "public"."ix_balance_alerts_org_created"');
    await queryRunner.query('DROP TABLE "balance_alerts"');
    await queryRunner.query('DROP TABLE "alert_states"');
  }
}
