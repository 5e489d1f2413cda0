import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

const REPO_ROOT = resolve(__dirname, '../../..');
const run = promisify(execFile);

export interface PrivateKafka {
  brokers: string;
  /** Stops the broker (SIGTERM, as scripts/kafka.sh stop), keeping its data: connections are refused. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same data (what was acknowledged is still there). */
  start(): Promise<void>;
  /** Freezes the broker (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void;
  thaw(): void;
  /** Stops the broker and deletes its state. */
  dispose(): Promise<void>;
}

/**
 * A Kafka broker of the test's own, on spare ports, from the same cached jars as the shared one
 * (scripts/kafka.sh): for tests that make Kafka fail, which must never touch the shared broker.
 */
export async function startPrivateKafka(options: { port?: number } = {}): Promise<PrivateKafka> {
  const [port, controllerPort] = [options.port ?? (await freePort()), await freePort()];
  const state = await mkdtemp(join(tmpdir(), 'tally-kafka-'));
  const env = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    TALLY_STATE: state,
    KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m',
  };
  const script = resolve(REPO_ROOT, 'scripts/kafka.sh');
  let pid = 0;
  const start = async () => {
    await run('bash', [script, 'start'], { env, timeout: 120_000 });
    pid = Number((await readFile(join(state, `kafka-${port}`, 'kafka.pid'), 'utf8')).trim());
  };
  await start();
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  };
  return {
    brokers: `127.0.0.1:${port}`,
    stop: async () => {
      await run('bash', [script, 'stop'], { env, timeout: 60_000 }).catch(() => signal('SIGKILL'));
    },
    start,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    dispose: async () => {
      signal('SIGCONT');
      await run('bash', [script, 'stop'], { env, timeout: 60_000 }).catch(() => signal('SIGKILL'));
      await rm(state, { recursive: true, force: true });
    },
  };
}
