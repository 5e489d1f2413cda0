/* Seeds the demo organization once (one package, one API key; a later run gives its owner a new
 * key), and prints a curl line that works and a dashboard token for its owner. */
import { DEFAULT_KEY_PREFIX } from '@tally/contracts';
import { createDataSource, ensureDemoOrganization } from '@tally/database';
import { dashboardToken } from './dashboard-token';
import { loadStackEnv, requireEnv } from './stack-env';

async function main(): Promise<void> {
  loadStackEnv();
  const url = requireEnv('DATABASE_URL');
  const pepper = requireEnv('API_KEY_PEPPER');
  const token = requireEnv('SERVICE_TOKENS').split(',')[0];
  const dataSource = await createDataSource({ url, applicationName: 'tally-seed' }).initialize();
  try {
    const demo = await ensureDemoOrganization(dataSource, {
      keyPrefix: process.env.API_KEY_PREFIX || DEFAULT_KEY_PREFIX,
      pepper,
    });
    const jwt = process.env.JWT_SECRET
      ? dashboardToken({ orgId: demo.orgId, role: 'owner', userId: demo.userId, hours: 12 })
      : undefined;
    process.stdout.write(instructions(demo, token, jwt));
  } finally {
    await dataSource.destroy();
  }
}

function instructions(demo: { orgId: string; apiKey: string; created: boolean }, token: string, jwt?: string): string {
  const auth = `http://127.0.0.1:${process.env.AUTH_PORT ?? 3001}`;
  const quota = `http://127.0.0.1:${process.env.QUOTA_PORT ?? 3003}`;
  const body = JSON.stringify({ key: demo.apiKey, action: 'agent.run', orgId: demo.orgId });
  return [
    '',
    demo.created
      ? `Demo organization ${demo.orgId}: 10 sandbox hours, 100 agent credits.`
      : `Demo organization ${demo.orgId} (seeded by an earlier start): a new API key for its owner.`,
    `API key (shown once): ${demo.apiKey}`,
    ...(jwt
      ? [
          `Dashboard token of its owner (12 h; more with: npm run token -- --org ${demo.orgId} --role admin):`,
          `  ${jwt}`,
        ]
      : []),
    '',
    'Verify an agent run (debits 1 agent credit):',
    `  curl -s -X POST ${auth}/v1/verify -H 'content-type: application/json' -H 'x-service-token: ${token}' -d '${body}'`,
    'Read the balance (watch agentCredits go down):',
    `  curl -s ${quota}/v1/orgs/${demo.orgId}/balances -H 'x-service-token: ${token}'`,
    ...(jwt
      ? [
          'List the API keys (dashboard token):',
          `  curl -s ${auth}/v1/orgs/${demo.orgId}/api-keys -H "authorization: Bearer ${jwt}"`,
        ]
      : []),
    '',
  ].join('\n');
}

main().catch((error: Error) => {
  console.error(`seed failed: ${error.message}`);
  process.exit(1);
});
