import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const REPO_ROOT = resolve(__dirname, '../../..');
const SCRIPT = resolve(REPO_ROOT, 'scripts/redis-cluster.sh');
const run = promisify(execFile);

export interface PrivateRedisCluster {
  /** `redis+cluster://…` for REDIS_URL. */
  url: string;
  ports: number[];
  /** The ports of the nodes that are primaries now (asked of the cluster). */
  primaries(): Promise<number[]>;
  /** SIGKILL the node on this port (its replica takes over after the node timeout). */
  kill(port: number): Promise<void>;
  /** Starts every stopped node again and waits until the cluster reports ok. */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

const isFree = (port: number) =>
  new Promise<boolean>((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });

/** Six consecutive free ports whose cluster-bus ports (+10000) are free as well. */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000);
    const ports = Array.from({ length: 6 }, (_, i) => base + i);
    const checks = await Promise.all(ports.flatMap((port) => [isFree(port), isFree(port + 10_000)]));
    if (checks.every(Boolean)) return base;
  }
  throw new Error('no six free consecutive ports for a Redis Cluster');
}

/**
 * A Redis Cluster of the test's own (3 primaries + 3 replicas, scripts/redis-cluster.sh) on spare
 * ports, for tests that run Tally on a cluster or fail its nodes; never the machine's Redis.
 */
export async function startPrivateRedisCluster(): Promise<PrivateRedisCluster> {
  const base = await freeBase();
  const state = await mkdtemp(join(tmpdir(), 'tally-redis-cluster-'));
  const env = { ...process.env, REDIS_CLUSTER_PORT: String(base), TALLY_STATE: state };
  const script = (command: string) => run('bash', [SCRIPT, command], { env, timeout: 90_000 });
  await script('start');
  const ports = Array.from({ length: 6 }, (_, i) => base + i);
  const pidOf = async (port: number) =>
    Number((await readFile(join(state, `redis-cluster-${base}`, String(port), 'redis.pid'), 'utf8')).trim());
  return {
    url: (await script('url')).stdout.trim(),
    ports,
    primaries: async () => {
      const roles = await Promise.all(
        ports.map((port) =>
          run('redis-cli', ['-p', String(port), 'role'])
            .then(({ stdout }) => stdout.split('\n')[0].trim())
            .catch(() => 'down'),
        ),
      );
      return ports.filter((_, i) => roles[i] === 'master');
    },
    kill: async (port) => {
      try {
        process.kill(await pidOf(port), 'SIGKILL');
      } catch {
        // already gone
      }
    },
    restart: async () => {
      await script('start');
    },
    dispose: async () => {
      await script('stop').catch(() => undefined);
      await rm(state, { recursive: true, force: true });
    },
  };
}
