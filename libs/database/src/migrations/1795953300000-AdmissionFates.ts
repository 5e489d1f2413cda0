import { MigrationInterface, QueryRunner } from 'typeorm';

/** One fate per admission (settled | voided), for admission.voided events: docs/FATES.md. */
export class AdmissionFates1795953300000 implements MigrationInterface {
  name = 'AdmissionFates1795953300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "admission_fates" ("org_id" character varying(30) NOT NULL, "admission_id" character varying(128) NOT NULL, "fate" text NOT NULL, "event_source" text, "event_id" text, "action" text, "sandbox_id" text, "reserved_ms" bigint NOT NULL DEFAULT \'0\', "void_reason" text, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_09afd67fe74acf2b3ead51cf0e9" PRIMARY KEY ("org_id", "admission_id"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "admission_fates"');
  }
}
