import { MigrationInterface, QueryRunner } from 'typeorm';

/** Per-organization balance alert thresholds (null: the process-wide ALERT_THRESHOLDS). */
export class OrgAlertThresholds1795971000000 implements MigrationInterface {
  name = 'OrgAlertThresholds1795971000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "organizations" ADD "alert_thresholds" integer array');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "organizations" DROP COLUMN "alert_thresholds"');
  }
}
