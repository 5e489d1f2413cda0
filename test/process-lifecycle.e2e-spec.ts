import { createTestContext, expectEventually, freePort, TestContext } from '@tally/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** The built apps as real processes: configuration errors, readiness, graceful shutdown. */
const ROOT = resolve(__dirname, '..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const main = (app: string) => resolve(ROOT, `dist/apps/${app}/src/main.js`);

function run(
  app: string,
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(NODE, [main(app)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exit = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, output: () => output, exit };
}

describe('app processes', () => {
  jest.setTimeout(90_000);
  let ctx: TestContext;
  beforeAll(async () => (ctx = await createTestContext()));
  afterAll(() => ctx.dispose());

  it.each(['auth', 'metering', 'quota'])('%s exits non-zero naming DATABASE_URL when it is missing', async (app) => {
    const env = ctx.env();
    delete (env as Partial<typeof env>).DATABASE_URL;
    const started = run(app, env);
    expect(await started.exit).toBe(1);
    expect(started.output()).toContain('Invalid configuration: DATABASE_URL is required');
  });

  it('auth names a malformed variable', async () => {
    const started = run('auth', ctx.env({ KAFKA_BROKERS: 'not a broker list' }));
    expect(await started.exit).toBe(1);
    expect(started.output()).toContain('KAFKA_BROKERS must be host:port');
  });

  // Issue 11, findings 5 and 6: no quota by omission, no weak or reused service credentials.
  it.each([
    [{}, 'QUOTA_URL is required'],
    [{ QUOTA_DISABLED: 'true' }, 'QUOTA_DISABLED is allowed only with TALLY_ENV=development'],
    [
      { QUOTA_URL: 'http://127.0.0.1:3003', QUOTA_SERVICE_TOKEN: 'test-service-token' },
      'QUOTA_SERVICE_TOKEN must differ',
    ],
    [
      { QUOTA_URL: 'http://127.0.0.1:3003', QUOTA_SERVICE_TOKEN: 'an-outbound-credential-of-32-characters' },
      'SERVICE_TOKENS each credential must have at least 32 characters',
    ],
  ])('auth refuses to start in production with %j', async (extra, message) => {
    const started = run('auth', ctx.env({ TALLY_ENV: 'production', ...extra }));
    expect(await started.exit).toBe(1);
    expect(started.output()).toContain(message);
  });

  it.each([
    ['quota', {}, 'SERVICE_TOKENS each credential must have at least 32 characters'],
    ['metering', {}, 'SERVICE_TOKENS each credential must have at least 32 characters'],
    [
      'metering',
      { SERVICE_TOKENS: 'a-billing-credential-of-32-characters', AUTH_SERVICE_TOKEN: 'short' },
      'AUTH_SERVICE_TOKEN must have at least 32 characters',
    ],
    ['metering', { AUTH_SERVICE_TOKEN: 'test-service-token' }, 'AUTH_SERVICE_TOKEN must differ'],
  ])('%s refuses to start in production with weak or reused credentials (%j)', async (app, extra, message) => {
    const started = run(app, ctx.env({ TALLY_ENV: 'production', ...extra }));
    // An app that starts anyway is stopped, not left running past the test.
    const stillRunning = new Promise<string>((done) => setTimeout(() => done('still running'), 30_000).unref());
    const exit = await Promise.race([started.exit, stillRunning]);
    started.child.kill('SIGKILL');
    expect(exit).toBe(1);
    expect(started.output()).toContain(message);
  });

  it('auth with QUOTA_DISABLED=true (development) says so in /health/ready', async () => {
    const port = String(await freePort());
    const started = run('auth', ctx.env({ PORT: port, TALLY_ENV: 'development', QUOTA_DISABLED: 'true' }));
    try {
      await expectEventually(
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
          expect(response.status).toBe(200);
          expect(((await response.json()) as { checks: Record<string, unknown> }).checks.quota).toMatchObject({
            status: 'disabled',
          });
        },
        85_000,
        250,
      );
    } finally {
      started.child.kill('SIGTERM');
      await started.exit;
    }
  });

  it('metering becomes ready, then drains and exits 0 on SIGTERM', async () => {
    const port = String(await freePort());
    const started = run('metering', ctx.env({ PORT: port, LOG_LEVEL: 'info' }));
    await expectEventually(
      async () => {
        const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
        expect(response.status).toBe(200);
      },
      60_000,
      200,
    );
    const live = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(await live.json()).toEqual({ status: 'ok' });
    started.child.kill('SIGTERM');
    expect(await started.exit).toBe(0);
  });
});
