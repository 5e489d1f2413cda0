import {
  createTestContext,
  expectEventually,
  freePort,
  PrivateKafka,
  startPrivateKafka,
  TestContext,
} from '@tally/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * Issue 16: metering and auth started before their broker (the built apps as processes) listen at
 * once, answer /health/ready 503 naming kafka for as long as it is missing, never exit, and become
 * ready by themselves once it answers; quota (whose readiness does not depend on Kafka) serves
 * meanwhile. Every line the three write, from the first, is one JSON object. The broker stays away TALLY_LATE_BROKER_MS (20 s by default; the 2 minutes
 * with TALLY_LATE_BROKER_MS=120000).
 */
const ROOT = resolve(__dirname, '..');
const NODE = resolve(ROOT, 'node_modules/.bin/node');
const LATE_MS = Number(process.env.TALLY_LATE_BROKER_MS ?? 20_000);
const APPS = ['metering', 'auth'] as const;

interface Started {
  app: string;
  port: number;
  child: ChildProcess;
  lines: () => string[];
  exit: Promise<number | null>;
}

function run(app: string, port: number, env: Record<string, string>): Started {
  const child = spawn(NODE, [resolve(ROOT, `dist/apps/${app}/src/main.js`)], {
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exit = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { app, port, child, lines: () => output.split('\n').filter((line) => line.length > 0), exit };
}

const ready = async (port: number) => {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(3_000) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('metering and auth started before their broker', () => {
  jest.setTimeout(LATE_MS + 240_000);
  let ctx: TestContext;
  let kafka: PrivateKafka | undefined;
  const started: Started[] = [];
  const everyProcess: Started[] = [];

  beforeAll(async () => (ctx = await createTestContext()));
  afterAll(async () => {
    for (const { child, exit } of everyProcess) {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    await kafka?.dispose();
    await ctx?.dispose();
  });

  it('wait with /health/ready 503 naming kafka, become ready by themselves, and write only JSON lines', async () => {
    const kafkaPort = await freePort();
    const env = ctx.env({
      KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      LOG_LEVEL: 'info',
      TALLY_ENV: 'development',
      QUOTA_DISABLED: 'true',
      SERVICE_TOKENS: 'test-service-token',
    });
    const since = Date.now();
    for (const app of APPS) started.push(run(app, await freePort(), env));
    const quota = run('quota', await freePort(), env);
    everyProcess.push(...started, quota);

    for (const { port } of started) {
      await expectEventually(
        async () => {
          const answer = await ready(port);
          expect(answer.status).toBe(503);
          expect(answer.body).toMatchObject({
            code: 'DEPENDENCY_UNAVAILABLE',
            message: 'Not ready: kafka unavailable.',
            checks: {
              postgres: { status: 'up' },
              kafka: { status: 'down', error: expect.stringMatching(/^starting/) },
            },
          });
        },
        60_000,
        250,
      );
    }
    await expectEventually(async () => expect((await ready(quota.port)).status).toBe(200), 60_000, 250);
    // The broker stays away: the processes keep waiting, answering, never exiting.
    while (Date.now() - since < LATE_MS) {
      for (const { app, port, child } of started) {
        expect({ app, exitCode: child.exitCode }).toEqual({ app, exitCode: null });
        expect((await ready(port)).status).toBe(503);
        expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }

    kafka = await startPrivateKafka({ port: kafkaPort });
    const brokerUp = Date.now();
    for (const { port } of started) {
      await expectEventually(async () => expect((await ready(port)).status).toBe(200), 120_000, 250);
    }
    const readyAfter = Date.now() - brokerUp;
    console.log(
      `broker absent for ${((brokerUp - since) / 1000).toFixed(0)} s; metering and auth ready ` +
        `${(readyAfter / 1000).toFixed(1)} s after it answered, same processes`,
    );
    for (const { app, child } of started) expect({ app, exitCode: child.exitCode }).toEqual({ app, exitCode: null });

    started.push(quota);
    for (const { child, exit } of started) {
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
    const notJson = started.flatMap(({ app, lines }) =>
      lines()
        .filter((line) => {
          try {
            const parsed: unknown = JSON.parse(line);
            return typeof parsed !== 'object' || parsed === null || Array.isArray(parsed);
          } catch {
            return true;
          }
        })
        .map((line) => `${app}: ${line.slice(0, 200)}`),
    );
    const total = started.reduce((sum, { lines }) => sum + lines().length, 0);
    console.log(`${total} lines written by metering, auth and quota, ${notJson.length} not JSON`);
    for (const { app, lines } of started) expect({ app, wrote: lines().length > 0 }).toEqual({ app, wrote: true });
    expect(notJson).toEqual([]);
  });
});
