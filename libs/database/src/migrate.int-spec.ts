import { createTestContext, TestContext } from '@tally/testing';
import { Client } from 'pg';
import { createDataSource } from './data-source';
import { pendingSchemaChanges, runMigrations } from './migrate';
import { MIGRATIONS } from './migrations';

describe('migrations', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;
  let emptyUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    // A second, empty database to migrate from nothing.
    const client = new Client({ connectionString: ctx.databaseUrl });
    await client.connect();
    await client.query(`CREATE DATABASE "${`tally_t_${ctx.id}_empty`}"`);
    await client.end();
    const url = new URL(ctx.databaseUrl);
    url.pathname = `/tally_t_${ctx.id}_empty`;
    emptyUrl = url.toString();
  });

  afterAll(async () => {
    const client = new Client({ connectionString: ctx.databaseUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${`tally_t_${ctx.id}_empty`}" WITH (FORCE)`);
    await client.end();
    await ctx.dispose();
  });

  it('apply each migration exactly once when several processes start together', async () => {
    const sources = await Promise.all(
      [1, 2, 3].map(() => createDataSource({ url: emptyUrl, poolSize: 2 }).initialize()),
    );
    try {
      const applied = await Promise.all(sources.map((source) => runMigrations(source)));
      expect(applied.flat()).toHaveLength(MIGRATIONS.length);
      const rows = await sources[0].query('SELECT name FROM schema_migrations');
      expect(rows).toHaveLength(MIGRATIONS.length);
    } finally {
      await Promise.all(sources.map((source) => source.destroy()));
    }
  });

  it('agree with the entities: nothing left for a new migration to do', async () => {
    const source = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    try {
      expect(await pendingSchemaChanges(source)).toEqual({ up: [], down: [] });
    } finally {
      await source.destroy();
    }
  });

  it('detect an entity change that no migration covers', async () => {
    const source = await createDataSource({ url: ctx.databaseUrl, poolSize: 2 }).initialize();
    try {
      await source.query('ALTER TABLE organizations DROP COLUMN plan');
      const { up } = await pendingSchemaChanges(source);
      expect(up.join('\n')).toContain('"plan"');
    } finally {
      await source.destroy();
    }
  });
});
