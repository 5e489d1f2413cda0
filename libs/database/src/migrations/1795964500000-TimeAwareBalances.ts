import { MigrationInterface, QueryRunner } from 'typeorm';

/** Durable Redis refreshes after grants and expiry (`balance_refreshes`): docs/TIME.md. */
export class TimeAwareBalances1795964500000 implements MigrationInterface {
  name = 'TimeAwareBalances1795964500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "balance_refreshes" ("org_id" character varying(30) NOT NULL, "generation" bigint NOT NULL DEFAULT \'1\', "requested_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "attempts" integer NOT NULL DEFAULT \'0\', CONSTRAINT "PK_4a1fc84c84e7835997f22112a91" PRIMARY KEY ("org_id"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "balance_refreshes"');
  }
}
