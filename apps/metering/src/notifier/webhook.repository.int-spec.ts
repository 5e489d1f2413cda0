import { createDataSource } from '@tally/database';
import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import { DataSource } from 'typeorm';
import { WebhookRepository } from './webhook.repository';

/** The delivery queue against real PostgreSQL: the races between queueing and an endpoint dying. */
describe(WebhookRepository.name, () => {
  let ctx: TestContext;
  let db: DataSource;
  let sut: WebhookRepository;

  beforeAll(async () => {
    ctx = await createTestContext();
    db = await createDataSource({ url: ctx.databaseUrl, poolSize: 4 }).initialize();
    sut = new WebhookRepository(db);
  });

  afterAll(async () => {
    await db?.destroy();
    await ctx?.dispose();
  });

  describe('enqueue', () => {
    it('queues nothing for an endpoint that dies while the alert is being queued', async () => {
      const endpoint = await sut.register(null, 'http://127.0.0.1:9/hook', 'whsec_test');
      // What record() does when a delivery is given up on for the last time, held open.
      const dying = db.createQueryRunner();
      await dying.connect();
      await dying.startTransaction();
      await dying.query('SELECT status FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [endpoint.id]);
      await dying.query(`UPDATE webhook_endpoints SET status = 'dead' WHERE id = $1`, [endpoint.id]);
      await dying.query(
        `UPDATE webhook_deliveries SET status = 'abandoned' WHERE endpoint_id = $1 AND status = 'pending'`,
        [endpoint.id],
      );
      const queued = sut.enqueue('ORG-01J0000000000000000000000', 'alert-1', { id: 'alert-1' });
      // Queued either before the endpoint's death commits (the race) or after it, waiting on its lock.
      let done = false;
      void queued.then(() => (done = true));
      await expectEventually(async () => {
        const [waiting] = await db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO webhook_deliveries%'`,
        );
        expect(done || waiting.n === 1).toBe(true);
      });
      await dying.commitTransaction();
      await dying.release();
      await queued;
      const [pending] = await db.query(
        `SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'`,
        [endpoint.id],
      );
      expect(pending.n).toBe(0);
    });
  });
});
