import type { Dependency } from '@tally/contracts';

/**
 * Which dependency a thrown driver error says is unreachable, or undefined when it is not a
 * connection failure: the one place that knows the shapes of pg / TypeORM, ioredis and kafkajs
 * connection errors, so that every route of every app answers 503 DEPENDENCY_UNAVAILABLE naming
 * it (issue 16) instead of each route remembering to convert.
 */
export function dependencyFailure(error: unknown): Dependency | undefined {
  // A wrapped error (TypeORM's driverError, an Error's cause) is classified by what it wraps.
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const found = classifyOne(current as DriverError, depth === 0);
    if (found) return found;
    const next = current as DriverError;
    current = next.driverError ?? next.originalError ?? next.cause;
  }
  return undefined;
}

interface DriverError {
  name?: string;
  message?: string;
  code?: unknown;
  syscall?: string;
  address?: string;
  port?: number;
  driverError?: unknown;
  originalError?: unknown;
  cause?: unknown;
}

/** The socket-level failures of a TCP client: what pg hands over as is. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** pg's own messages when a connection is refused, lost or never obtained (pg, pg-pool). */
const PG_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];
/**
 * SQLSTATE: class 08 (connection exception), 57P01-57P03 (shut down, crash, cannot connect now),
 * 53300 (too many connections). Not 57014: a cancelled or timed-out statement is that query's
 * problem, and "unavailable, retry in 1 s" would have clients hammer it.
 */
const PG_STATES = /^(08...|57P0[1-3]|53300)$/;

/** ioredis: retries exhausted, no connection and no offline queue, command timeout, cluster down. */
const REDIS_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const REDIS_MESSAGES = [
  /^Connection is closed\.$/,
  /^Stream isn't writeable and enableOfflineQueue options is false$/,
  /^Command timed out$/,
  /^None of startup nodes is available$/,
  /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN) /,
];

/** kafkajs: everything it throws for an unreachable or unanswering cluster (not protocol refusals). */
const KAFKA_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'KafkaJSMetadataNotLoaded',
]);
/**
 * kafkajs gives up on every error it will not retry as KafkaJSNonRetriableError, protocol refusals
 * (too large, not authorized) as well as connection failures: only the latter are an outage.
 */
const KAFKA_GAVE_UP =
  /^(Connection error|Connection timeout|Closed connection)|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH)\b/;

function classifyOne(error: DriverError, thrownAsIs: boolean): Dependency | undefined {
  const name = typeof error.name === 'string' ? error.name : '';
  const message = typeof error.message === 'string' ? error.message : '';
  if (KAFKA_NAMES.has(name)) return 'kafka';
  if (name === 'KafkaJSNonRetriableError' && KAFKA_GAVE_UP.test(message)) return 'kafka';
  if (REDIS_NAMES.has(name) || REDIS_MESSAGES.some((pattern) => pattern.test(message))) return 'redis';
  if (PG_MESSAGES.some((pattern) => pattern.test(message))) return 'postgres';
  if ('severity' in error) {
    // A FATAL (or PANIC) error ends the session: raised when a connection is refused by the server
    // (not accepting connections, shutting down, too many clients) or torn down.
    const severity = (error as { severity?: unknown }).severity;
    if (severity === 'FATAL' || severity === 'PANIC') return 'postgres';
    if (typeof error.code === 'string' && PG_STATES.test(error.code)) return 'postgres';
  }
  if (typeof error.code === 'string' && SOCKET_CODES.has(error.code)) {
    return endpointOwner(error) ?? (thrownAsIs ? 'postgres' : undefined);
  }
  return undefined;
}

const endpoints = new Map<string, Dependency>();
const endpointKey = (host: string, port: number) => `${host.replace(/^\[|\]$/g, '').toLowerCase()}:${port}`;

/**
 * Remembers where a dependency listens, so a bare socket error (`connect ECONNREFUSED
 * 127.0.0.1:5432`, which names no driver) is attributed by its address. Called where the clients
 * are created (libs/database, libs/redis, libs/kafka).
 */
export function registerDependencyEndpoint(dependency: Dependency, host: string, port: number): void {
  endpoints.set(endpointKey(host, port), dependency);
  if (host === 'localhost') endpoints.set(endpointKey('127.0.0.1', port), dependency);
}

/**
 * A socket error carries the address it tried. An unregistered one thrown as is (not the cause of
 * another error, as fetch's are) is pg's: the one driver that hands socket errors over unwrapped
 * (ioredis and kafkajs wrap theirs), e.g. when DATABASE_URL names a host by a DNS name.
 */
function endpointOwner(error: DriverError): Dependency | undefined {
  if (typeof error.address !== 'string' || typeof error.port !== 'number') return undefined;
  return endpoints.get(endpointKey(error.address, error.port));
}
