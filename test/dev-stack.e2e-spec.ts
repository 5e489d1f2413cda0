import { createDataSource, OrganizationEntity } from '@tally/database';
import { createTestContext, expectEventually, freePort, TestContext } from '@tally/testing';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The newcomer path with `npm start`'s own configuration (`scripts/stack.sh env`: its credentials,
 * secrets and URLs), moved only to this file's database, topic and key prefixes and free ports:
 * the three built apps as processes, the demo seed as the stack runs it, then what the README
 * tells a newcomer to try.
 */
const ROOT = resolve(__dirname, '..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const APPS = ['auth', 'metering', 'quota'] as const;

interface Seeded {
  orgId: string;
  apiKey: string;
  jwt: string;
  curl: string;
}

function parseSeed(output: string): Seeded {
  const orgId = /Demo organization (ORG-[0-9A-Z]{26})/.exec(output)?.[1];
  const apiKey = /API key \(shown once\): (\S+)/.exec(output)?.[1];
  const jwt = /Dashboard token of its owner[^\n]*\n\s+(\S+)/.exec(output)?.[1];
  const curl = /(curl -s -X POST \S+\/v1\/verify .*)/.exec(output)?.[1];
  if (!orgId || !apiKey || !jwt || !curl) throw new Error(`unexpected seed output:\n${output}`);
  return { orgId, apiKey, jwt, curl };
}

describe('the dev stack (npm start configuration)', () => {
  jest.setTimeout(180_000);
  let ctx: TestContext;
  let env: Record<string, string>;
  let stackEnvFile: string;
  const children: ChildProcess[] = [];
  const ports: Record<(typeof APPS)[number], number> = { auth: 0, metering: 0, quota: 0 };
  const run = (script: string, args: string[] = [], extra: Record<string, string> = {}) =>
    spawnSync(NODE, [resolve(ROOT, script), ...args], {
      env: { PATH: process.env.PATH ?? '', TALLY_STACK_ENV: stackEnvFile, ...extra },
      encoding: 'utf8',
      timeout: 90_000,
    });
  let seeded: Seeded;

  beforeAll(async () => {
    ctx = await createTestContext();
    for (const app of APPS) ports[app] = await freePort();
    // Only where the services are and the ports: every credential is the stack's.
    const placement = {
      DATABASE_URL: ctx.databaseUrl,
      REDIS_URL: ctx.redisUrl,
      KAFKA_BROKERS: ctx.kafkaBrokers,
      AUTH_PORT: String(ports.auth),
      METERING_PORT: String(ports.metering),
      QUOTA_PORT: String(ports.quota),
    };
    const printed = execFileSync('bash', [resolve(ROOT, 'scripts/stack.sh'), 'env'], {
      env: { PATH: process.env.PATH ?? '', ...placement },
      encoding: 'utf8',
    });
    env = {
      ...Object.fromEntries(
        printed
          .trim()
          .split('\n')
          .map((line) => [line.split('=')[0], line.slice(line.indexOf('=') + 1)]),
      ),
      KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
      REDIS_KEY_PREFIX: ctx.redisPrefix,
      LOG_LEVEL: 'warn',
    };
    stackEnvFile = join(mkdtempSync(join(tmpdir(), 'tally-stack-')), 'stack.env');
    writeFileSync(
      stackEnvFile,
      Object.entries(env)
        .map(([name, value]) => `${name}=${value}\n`)
        .join(''),
    );
    // As stack.sh starts them: quota also accepts auth's outbound credential and auth metering's,
    // which the caller itself refuses.
    const outboundTo: Record<string, string | undefined> = {
      quota: env.QUOTA_SERVICE_TOKEN,
      auth: env.AUTH_SERVICE_TOKEN,
    };
    const tokensOf = (app: string) =>
      outboundTo[app] ? { SERVICE_TOKENS: `${env.SERVICE_TOKENS},${outboundTo[app]}` } : {};
    for (const app of APPS) {
      const child = spawn(NODE, [resolve(ROOT, `dist/apps/${app}/src/main.js`)], {
        env: {
          PATH: process.env.PATH ?? '',
          ...env,
          ...tokensOf(app),
          PORT: String(ports[app]),
          MIGRATE_ON_START: 'false',
        },
        stdio: 'ignore',
      });
      children.push(child);
    }
    for (const app of APPS) {
      await expectEventually(
        async () => expect((await fetch(`http://127.0.0.1:${ports[app]}/health/ready`)).status).toBe(200),
        90_000,
        250,
      );
    }
    const seed = run('dist/scripts/seed-demo.js');
    expect(seed.status).toBe(0);
    seeded = parseSeed(seed.stdout);
  });

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((done) =>
            child.exitCode !== null ? done(null) : (child.on('exit', done), child.kill('SIGTERM')),
          ),
      ),
    );
    await ctx.dispose();
  });

  it("the seed's curl line answers 200 on a cold cache (the first verify after start)", async () => {
    const body = /-d '(.*)'$/.exec(seeded.curl)![1];
    const token = /x-service-token: ([^']+)'/.exec(seeded.curl)![1];
    const response = await fetch(`http://127.0.0.1:${ports.auth}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-service-token': token },
      body,
    });
    expect({ status: response.status, body: await response.json() }).toMatchObject({
      status: 200,
      body: { allowed: true, orgId: seeded.orgId },
    });
  });

  it.each(['packages', 'usage', 'stats'])("metering's /api/orgs/:orgId/%s answers an API key", async (path) => {
    const response = await fetch(`http://127.0.0.1:${ports.metering}/api/orgs/${seeded.orgId}/${path}`, {
      headers: { 'x-api-key': seeded.apiKey },
    });
    expect({ path, status: response.status }).toEqual({ path, status: 200 });
  });

  it("the printed dashboard token manages the demo org's keys; npm run token makes an admin's", async () => {
    const keys = `http://127.0.0.1:${ports.auth}/v1/orgs/${seeded.orgId}/api-keys`;
    const listed = await fetch(keys, { headers: { authorization: `Bearer ${seeded.jwt}` } });
    expect(listed.status).toBe(200);

    const token = run('dist/scripts/dashboard-token.js', ['--org', seeded.orgId, '--role', 'admin']);
    expect(token.stderr).toBe('');
    const created = await fetch(keys, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.stdout.trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'made by an admin' }),
    });
    expect(created.status).toBe(201);
  });

  it('a second start seeds no second demo organization: a new key for the same one', async () => {
    const again = run('dist/scripts/seed-demo.js');
    expect(again.status).toBe(0);
    const second = parseSeed(again.stdout);
    expect(second.orgId).toBe(seeded.orgId);
    expect(second.apiKey).not.toBe(seeded.apiKey);
    const db = await createDataSource({ url: ctx.databaseUrl, poolSize: 1 }).initialize();
    try {
      expect(await db.getRepository(OrganizationEntity).count({ where: { name: 'Demo organization' } })).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('npm run simulate works with no variables of its own, without warnings', async () => {
    const simulated = run('dist/scripts/simulate.js', ['--orgs', '2', '--rate', '20', '--duration', '3']);
    expect(simulated.stderr).toBe('');
    expect(simulated.stdout).not.toMatch(/WARN|Warning/);
    expect(simulated.status).toBe(0);
    const done = JSON.parse(simulated.stdout.trim().split('\n').pop()!);
    // Its calls reach auth and Kafka: decided (allowed or denied), none failed.
    expect({ ...done, decided: done.verified + done.denied > 0 }).toMatchObject({
      done: true,
      failed: 0,
      decided: true,
    });
  });
});
