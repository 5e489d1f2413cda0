import { Cluster } from 'ioredis';
import { assertOneSlot } from './key-slot';
import type { RedisClient } from './redis-client';

/** A Lua script Tally runs in Redis: its KEYS must all hash to one cluster slot. */
export interface ScriptSpec {
  /** The client command it becomes (unique across Tally). */
  name: string;
  numberOfKeys: number;
  lua: string;
}

export type ScriptCall<Reply> = (keys: string[], ...args: string[]) => Promise<Reply>;

/** Every script defined through defineScript, by name (what the slot test enumerates). */
export const definedScripts = new Map<string, ScriptSpec>();

/**
 * The one way Tally defines a Lua script. defineCommand sends EVALSHA and falls back to EVAL on
 * NOSCRIPT (after a Redis restart or failover); each call first checks that its keys share a slot,
 * so a script that would cross slots fails on a single Redis (in every test) as it would on a cluster.
 */
export function defineScript<Reply>(redis: RedisClient, spec: ScriptSpec): ScriptCall<Reply> {
  definedScripts.set(spec.name, spec);
  const client = redis as unknown as Record<string, ScriptCall<Reply> | undefined>;
  if (!client[spec.name]) redis.defineCommand(spec.name, { numberOfKeys: spec.numberOfKeys, lua: spec.lua });
  const command = client[spec.name] as ScriptCall<Reply>;
  return async (keys, ...args) => {
    if (keys.length !== spec.numberOfKeys)
      throw new Error(`${spec.name} takes ${spec.numberOfKeys} keys, got ${keys.length}`);
    assertOneSlot(spec.name, keys);
    return command.call(redis, keys, ...args);
  };
}

/** Compiles scripts ahead of their first call: on the one server, or on every primary of a cluster. */
export async function preloadScripts(redis: RedisClient, luas: string[]): Promise<void> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  await Promise.all(nodes.flatMap((node) => luas.map((lua) => node.script('LOAD', lua))));
}
