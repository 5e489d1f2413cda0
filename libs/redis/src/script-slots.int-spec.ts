import { startPrivateRedisCluster, PrivateRedisCluster } from '@tally/testing';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import Redis from 'ioredis';
import { AdmissionCache } from './admission-cache';
import { BalanceCache } from './balance-cache';
import { CrossSlotError, keySlot } from './key-slot';
import { OrgStateCache } from './org-state-cache';
import { createRedis, RedisClient } from './redis-client';
import { CHECK_AND_COUNT_LUA, READ_KEY_LUA, REFUND_LUA } from './auth-scripts';
import { definedScripts, defineScript } from './scripts';

const ROOT = resolve(__dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !/\.(int-|e2e-)?spec\.ts$/.test(name) ? [path] : [];
  });
}

/** Every Lua script in Tally's source: scripts are defined through defineScript only. */
function scriptNamesInSource(): { names: Set<string>; bypasses: string[] } {
  const names = new Set<string>();
  const bypasses: string[] = [];
  for (const file of [...sources(join(ROOT, 'apps')), ...sources(join(ROOT, 'libs'))]) {
    const text = readFileSync(file, 'utf8');
    const where = relative(ROOT, file);
    if (where !== 'libs/redis/src/scripts.ts' && /\bdefineCommand\(|\.eval(sha)?(Ro)?\(|['"]EVAL/i.test(text)) {
      bypasses.push(where);
    }
    for (const match of text.matchAll(/defineScript(?:<[^>]*>)?\([^,]+,\s*\{\s*name:\s*'([^']+)'/g))
      names.add(match[1]);
  }
  return { names, bypasses };
}

const HOUR = 3_600_000n;

/** How Tally calls each of its scripts, with its real key builders: one entry per script name. */
const exercises: Record<string, (redis: RedisClient, prefix: string, orgId: string) => Promise<unknown>> = {
  tallyApplySnapshot: (redis, prefix, orgId) =>
    new BalanceCache(redis, prefix).apply(
      orgId,
      { sandboxMs: 10n * HOUR, agentMc: 5_000n, heldMs: 0n, runningSandboxes: 0, version: 1n },
      ['adm-settled'],
    ),
  tallyAdmit: (redis, prefix, orgId) =>
    new AdmissionCache(redis, prefix).admit({
      orgId,
      keyId: 'key-1',
      admissionId: 'adm-1',
      kind: 'create',
      fingerprint: 'f',
      reserveMs: HOUR,
      holdTtlMs: 60_000,
      recordTtlMs: 60_000,
      planTier: 1,
      requiredTier: 0,
      concurrentLimit: 5,
      agentReserveMc: 0n,
      orgRatePerSecond: 100,
      keyRatePerSecond: 100,
    }),
  tallyRelease: (redis, prefix, orgId) => new AdmissionCache(redis, prefix).release(orgId, 'adm-1', 60_000),
  tallySetOrgState: (redis, prefix, orgId) =>
    new OrgStateCache(redis, prefix).write(orgId, { version: 1, suspended: true, plan: 'free' }),
  // auth's scripts, defined as key-cache.service.ts and failure-throttle.service.ts define them.
  authReadKey: (redis, prefix) =>
    defineScript(redis, { name: 'authReadKey', numberOfKeys: 1, lua: READ_KEY_LUA })([`${prefix}auth:key:k1`], '60'),
  authCheckAndCount: (redis, prefix) =>
    defineScript(redis, { name: 'authCheckAndCount', numberOfKeys: 1, lua: CHECK_AND_COUNT_LUA })(
      [`${prefix}auth:fail:addr:10.0.0.1`],
      '5',
      '60000',
    ),
  authRefund: (redis, prefix) =>
    defineScript(redis, { name: 'authRefund', numberOfKeys: 1, lua: REFUND_LUA })([`${prefix}auth:fail:addr:10.0.0.1`]),
};

/**
 * Redis Cluster runs a script only when all its keys live on one slot. Every script Tally defines
 * goes through defineScript, which checks that before each call, on a single Redis too; here each
 * script runs on a real cluster with the keys Tally gives it, and a cross-slot script is refused.
 */
describe('Lua scripts on a Redis Cluster: one slot each', () => {
  jest.setTimeout(60_000);
  let cluster: PrivateRedisCluster;
  let redis: RedisClient;

  beforeAll(async () => {
    cluster = await startPrivateRedisCluster();
    redis = createRedis({ url: cluster.url, commandTimeoutMs: 5_000 });
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.dispose();
  });

  it('defines every script through defineScript (no raw defineCommand or EVAL anywhere)', () => {
    const { names, bypasses } = scriptNamesInSource();
    expect(bypasses).toEqual([]);
    expect([...names].sort()).toEqual(Object.keys(exercises).sort());
  });

  it.each(Object.keys(exercises))('%s runs on the cluster for many organizations', async (name) => {
    for (let i = 0; i < 20; i++) {
      const orgId = `ORG-01SLOT${name}${i}`;
      await exercises.tallyApplySnapshot(redis, 'slots:', orgId);
      await expect(exercises[name](redis, 'slots:', orgId)).resolves.toBeDefined();
    }
    expect(definedScripts.has(name)).toBe(true);
  });

  it('computes the slot the cluster computes', async () => {
    const keys = ['foo', 'slots:{ORG-01A}:balance', 'x{}{y}', 'a{{b}}c', '{}', 'tally:auth:key:abc'];
    for (const key of keys) expect(keySlot(key)).toBe(Number(await redis.cluster('KEYSLOT', key)));
  });

  it('refuses a script whose keys cross slots: before sending, and the cluster itself', async () => {
    const lua = "return redis.call('EXISTS', KEYS[1], KEYS[2])";
    const crossing = defineScript(redis, { name: 'tallyTestCrossSlot', numberOfKeys: 2, lua });
    const keys = ['slots:{ORG-01A}:balance', 'slots:{ORG-01B}:balance'];
    await expect(crossing(keys)).rejects.toBeInstanceOf(CrossSlotError);
    // Sent as is to a cluster node (ioredis' own cluster client would refuse it before sending).
    const node = new Redis(cluster.ports[0], '127.0.0.1');
    await expect(node.eval(lua, 2, ...keys)).rejects.toThrow(/CROSSSLOT/);
    node.disconnect();
    await expect(crossing(['slots:{ORG-01A}:balance', 'slots:{ORG-01A}:other'])).resolves.toBe(0);
  });

  it('refuses the same script on a single Redis, so ordinary tests catch it', async () => {
    const single = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
    const crossing = defineScript(single, { name: 'tallyTestCrossSlot', numberOfKeys: 2, lua: 'return 1' });
    await expect(crossing(['p{ORG-01A}:a', 'p{ORG-01B}:b'])).rejects.toBeInstanceOf(CrossSlotError);
    single.disconnect();
  });
});
