/* Seeds a demo organization (one package, one API key) and prints a curl line that works. */
import { DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { createDataSource, seedDemoOrganization } from '@tally/database';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const pepper = process.env.API_KEY_PEPPER;
  const token = (process.env.SERVICE_TOKENS ?? '').split(',')[0];
  if (!url || !pepper || !token) throw new Error('DATABASE_URL, API_KEY_PEPPER and SERVICE_TOKENS are required');
  const dataSource = await createDataSource({ url, applicationName: 'tally-seed' }).initialize();
  try {
    const demo = await seedDemoOrganization(dataSource, {
      keyPrefix: process.env.API_KEY_PREFIX ?? DEFAULT_KEY_PREFIX,
      pepper,
    });
    const auth = `http://127.0.0.1:${process.env.AUTH_PORT ?? 3001}`;
    const quota = `http://127.0.0.1:${process.env.QUOTA_PORT ?? 3003}`;
    const body = JSON.stringify({ key: demo.apiKey, action: 'agent.run', orgId: demo.orgId });
    process.stdout.write(
      [
        '',
        `Demo organization ${demo.orgId}: 10 sandbox hours, 100 agent credits.`,
        `API key (shown once): ${demo.apiKey}`,
        '',
        'Verify an agent run (debits 1 agent credit):',
        `  curl -s -X POST ${auth}/v1/verify -H 'content-type: application/json' -H 'x-service-token: ${token}' -d '${body}'`,
        'Read the balance (watch agentCredits go down):',
        `  curl -s ${quota}/v1/orgs/${demo.orgId}/balances -H 'x-service-token: ${token}'`,
        '',
      ].join('\n'),
    );
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: Error) => {
  console.error(`seed failed: ${error.message}`);
  process.exit(1);
});
