/* Migration commands: `run` applies pending migrations, `check` fails when entities and migrations
 * disagree, `generate <Name>` writes the migration that would reconcile them. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDataSource } from '../data-source';
import { pendingSchemaChanges, runMigrations } from '../migrate';

async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2);
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const dataSource = await createDataSource({ url, applicationName: 'tally-migrate' }).initialize();
  try {
    if (command === 'run') {
      const applied = await runMigrations(dataSource);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
    } else if (command === 'check') {
      await runMigrations(dataSource);
      const { up } = await pendingSchemaChanges(dataSource);
      if (up.length) {
        console.error(`entities and migrations disagree; missing migration:\n${up.join(';\n')}`);
        process.exitCode = 1;
      } else console.log('entities and migrations agree');
    } else if (command === 'generate' && name) {
      const { up, down } = await pendingSchemaChanges(dataSource);
      const stamp = Date.now();
      const quote = (q: string) => `    await queryRunner.query(${JSON.stringify(q)});`;
      const file = join(process.cwd(), 'libs/database/src/migrations', `${stamp}-${name}.ts`);
      writeFileSync(
        file,
        `import { MigrationInterface, QueryRunner } from 'typeorm';\n\nexport class ${name}${stamp} implements MigrationInterface {\n  name = '${name}${stamp}';\n\n  async up(queryRunner: QueryRunner): Promise<void> {\n${up.map(quote).join('\n')}\n  }\n\n  async down(queryRunner: QueryRunner): Promise<void> {\n${down.map(quote).join('\n')}\n  }\n}\n`,
      );
      console.log(`wrote ${file}`);
    } else {
      throw new Error('usage: migrate run|check|generate <Name>');
    }
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
