import Redis from 'ioredis';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectEventually } from './expect-eventually';
import { freePort } from './free-port';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Starts it again on the same port: empty, unless started `persistent` (then with its data). */
  start(): Promise<void>;
  /** Shuts it down; every connection drops. A persistent one's data stays for the next start with `keepData`. */
  stop(options?: { keepData?: boolean }): void;
  /** A client of the test's own, for commands such as CLIENT KILL or CONFIG SET. */
  admin(): Redis;
}

/** Whether a Redis on this loopback port answers PING (false while it is down). */
export const redisAnswers = async (port: number): Promise<boolean> => {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
};

/**
 * A redis-server of the test's own on a spare port, for tests that stop Redis or cut its
 * connections: the shared Redis is never stopped, flushed or reconfigured by a test. By default it
 * keeps nothing on disk; `persistent` keeps an append-only file in a temporary directory, so a
 * stop and start is an outage that loses nothing (as a production Redis with AOF). `debug`
 * enables DEBUG SLEEP, how a test makes Redis slow.
 */
export async function startPrivateRedis(
  options: { persistent?: boolean; debug?: boolean } = {},
): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = options.persistent ? mkdtempSync(join(tmpdir(), 'tally-redis-')) : undefined;
  const storage = dir ? ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const debug = options.debug ? ['--enable-debug-command', 'yes'] : [];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...storage, ...debug];
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      execFileSync('redis-server', [...args, '--daemonize', 'yes']);
      await expectEventually(async () => {
        if (!(await redisAnswers(port))) throw new Error(`redis-server on ${port} does not answer`);
      }, 5_000);
    },
    stop({ keepData = false } = {}) {
      try {
        execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
      } catch {
        // Already down: shutdown closes the connection before answering.
      }
      if (dir && !keepData) rmSync(dir, { recursive: true, force: true });
    },
    admin: () => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }),
  };
  await redis.start();
  return redis;
}
