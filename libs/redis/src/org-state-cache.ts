import { defineScript, ScriptCall } from './scripts';
import { createSubscriber, type RedisClient } from './redis-client';

/** What auth and quota need to know of an organization at once (docs/ORGANIZATIONS.md). */
export interface OrgState {
  /** organizations.version: every change bumps it; a cache keeps the newest it saw. */
  version: number;
  suspended: boolean;
  plan: string;
}

/**
 * SET_IF_NEWER: KEYS[1] the org's entry, ARGV[1] its version, ARGV[2] the encoded state. Writes
 * only over an older version (or none), so a reader that loaded PostgreSQL before a change
 * cannot put back the state the change replaced. Returns 1 when written.
 */
export const SET_ORG_STATE_LUA = `
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(%d+)|'))
  if version and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
return 1
`;

/**
 * Redis layout (under the key prefix):
 *   {<orgId>}:org     string  `<version>|<active|suspended>|<plan>`, written by metering after each
 *                             change and by any reader that loaded PostgreSQL on a miss (newer wins)
 *   org:changed       pub/sub channel carrying the id of an organization that just changed
 */
export class OrgStateCache {
  private readonly setIfNewer: ScriptCall<number>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {
    this.setIfNewer = defineScript<number>(redis, {
      name: 'tallySetOrgState',
      numberOfKeys: 1,
      lua: SET_ORG_STATE_LUA,
    });
  }

  key(orgId: string): string {
    return `${this.keyPrefix}{${orgId}}:org`;
  }

  get channel(): string {
    return orgChangedChannel(this.keyPrefix);
  }

  async read(orgId: string): Promise<OrgState | null> {
    const raw = await this.redis.get(this.key(orgId));
    return raw === null ? null : decodeOrgState(raw);
  }

  /** Stores `state` unless a newer version is there; true when stored. */
  async write(orgId: string, state: OrgState): Promise<boolean> {
    const encoded = `${state.suspended ? 'suspended' : 'active'}|${state.plan}`;
    return (await this.setIfNewer([this.key(orgId)], String(state.version), encoded)) === 1;
  }

  /** After a change is committed: the new state stored, and every subscriber told to drop its copy. */
  async announce(orgId: string, state: OrgState): Promise<void> {
    await this.write(orgId, state);
    await this.redis.publish(this.channel, orgId);
  }
}

export const orgChangedChannel = (keyPrefix: string) => `${keyPrefix}org:changed`;

export function decodeOrgState(raw: string): OrgState | null {
  const match = /^(\d+)\|(active|suspended)\|(.+)$/.exec(raw);
  return match ? { version: Number(match[1]), suspended: match[2] === 'suspended', plan: match[3] } : null;
}

/**
 * A subscription to org:changed for a cache of organization state (auth's suspension flags,
 * quota's org plans): `onChange(orgId)` for each announced change, `onGap()` whenever messages
 * may have been lost (subscribed again after a disconnect: forget everything). `listening` says
 * whether the cache may serve its copies.
 */
export class OrgChangeSubscriber {
  private subscriber?: RedisClient;
  private closing = false;
  listening = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly handlers: {
      onChange(orgId: string): void;
      onGap(): void;
      warn(message: string, error?: unknown): void;
    },
  ) {}

  async start(): Promise<void> {
    const subscriber = createSubscriber(this.redis);
    this.subscriber = subscriber;
    subscriber.on('error', (error) => this.handlers.warn('org:changed subscriber error', error));
    subscriber.on('close', () => {
      if (this.listening && !this.closing)
        this.handlers.warn('org:changed subscriber disconnected; local copies not served');
      this.listening = false;
    });
    subscriber.on('ready', () => void this.listen(subscriber));
    subscriber.on('message', (_channel: string, orgId: string) => this.handlers.onChange(orgId));
    // A fail-fast client (no offline queue) refuses SUBSCRIBE before it connects: 'ready' subscribes then.
    if (subscriber.status === 'ready') await this.listen(subscriber);
  }

  async stop(): Promise<void> {
    this.closing = true;
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  private async listen(subscriber: RedisClient): Promise<void> {
    try {
      await subscriber.subscribe(orgChangedChannel(this.keyPrefix));
      this.handlers.onGap();
      this.listening = true;
    } catch (error) {
      this.handlers.warn('org:changed subscription failed; local copies not served', error);
    }
  }
}
