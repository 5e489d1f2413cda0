/**
 * Where Redis is: one server (`redis://`, `rediss://`) or a Redis Cluster
 * (`redis+cluster://[user[:password]@]host:port[,host:port...]`, `rediss+cluster://` for TLS), whose
 * listed nodes are only the seeds: the client discovers the rest of the cluster from them.
 */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | {
      mode: 'cluster';
      nodes: { host: string; port: number }[];
      username?: string;
      password?: string;
      tls: boolean;
    };

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\/(.*)$/;
const NODE = /^([\w.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** Parses a Redis URL; throws an Error whose message says what is wrong (config names the variable). */
export function parseRedisUrl(raw: string): RedisTarget {
  const cluster = CLUSTER_SCHEME.exec(raw.trim());
  if (!cluster) return { mode: 'single', url: singleUrl(raw.trim()) };
  const [, scheme, rest] = cluster;
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : '';
  const nodeList = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/$/, '');
  const nodes = nodeList.split(',').map((item) => clusterNode(item.trim()));
  const [username, password] = splitCredentials(credentials);
  return { mode: 'cluster', nodes, username, password, tls: scheme === 'rediss' };
}

function singleUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new Error('must be a URL: redis://, rediss:// or redis+cluster://host:port[,host:port...]');
  }
  if (!['redis:', 'rediss:'].includes(parsed.protocol)) {
    throw new Error(`must use redis, rediss, redis+cluster or rediss+cluster, got ${parsed.protocol}`);
  }
  return raw;
}

function clusterNode(item: string): { host: string; port: number } {
  const match = NODE.exec(item);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new Error(`must list cluster nodes as host:port[,host:port...], got ${JSON.stringify(item)}`);
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

function splitCredentials(credentials: string): [string | undefined, string | undefined] {
  if (!credentials) return [undefined, undefined];
  const colon = credentials.indexOf(':');
  const user = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials);
  const password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : undefined;
  // `redis+cluster://:secret@…` is a password without a user name (the default user).
  return [user || undefined, password];
}
