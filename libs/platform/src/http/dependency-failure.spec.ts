import { QueryFailedError } from 'typeorm';
import { dependencyFailure, registerDependencyEndpoint } from './dependency-failure';
import { mapError } from './error-filter';

const socketError = (code: string, address: string, port: number) =>
  Object.assign(new Error(`connect ${code} ${address}:${port}`), {
    code,
    errno: -111,
    syscall: 'connect',
    address,
    port,
  });
const named = (name: string, message: string) => Object.assign(new Error(message), { name });
const pgError = (code: string, message: string, severity = 'ERROR') =>
  Object.assign(new Error(message), { code, severity });

describe('dependencyFailure', () => {
  beforeAll(() => {
    registerDependencyEndpoint('redis', '127.0.0.1', 6399);
    registerDependencyEndpoint('postgres', 'localhost', 5499);
  });

  it.each([
    ['pg: connection refused, unwrapped', socketError('ECONNREFUSED', '10.0.0.9', 5432), 'postgres'],
    ['pg: refused at a registered address', socketError('ECONNREFUSED', '127.0.0.1', 5499), 'postgres'],
    ['pg: connection lost', new Error('Connection terminated unexpectedly'), 'postgres'],
    ['pg-pool: no connection in time', new Error('timeout exceeded when trying to connect'), 'postgres'],
    [
      'pg: server shutting down (57P01)',
      pgError('57P01', 'terminating connection due to administrator command'),
      'postgres',
    ],
    ['pg: cannot connect now (57P03)', pgError('57P03', 'the database system is starting up'), 'postgres'],
    [
      'pg: a FATAL at connection (database not accepting connections)',
      pgError('55000', 'database "x" is not currently accepting connections', 'FATAL'),
      'postgres',
    ],
    [
      'TypeORM: QueryFailedError wrapping a lost connection',
      new QueryFailedError('SELECT 1', [], pgError('08006', 'connection failure')),
      'postgres',
    ],
    [
      'ioredis: retries exhausted',
      named('MaxRetriesPerRequestError', 'Reached the max retries per request limit'),
      'redis',
    ],
    ['ioredis: no offline queue', new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'redis'],
    ['ioredis: command timeout', new Error('Command timed out'), 'redis'],
    ['ioredis: closed', new Error('Connection is closed.'), 'redis'],
    ['redis socket at its registered address', socketError('ECONNRESET', '127.0.0.1', 6399), 'redis'],
    ['kafkajs: connection', named('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED'), 'kafka'],
    ['kafkajs: retries exhausted', named('KafkaJSNumberOfRetriesExceeded', 'Connection timeout'), 'kafka'],
    [
      'kafkajs: request timeout',
      named('KafkaJSRequestTimeoutError', 'Request Metadata(key: 3, version: 6) timed out'),
      'kafka',
    ],
    [
      'kafkajs: a connection failure it gave up on (non-retriable)',
      named('KafkaJSNonRetriableError', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'),
      'kafka',
    ],
  ])('%s', (_label, error, dependency) => {
    expect(dependencyFailure(error)).toBe(dependency);
  });

  it.each([
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a data error', new QueryFailedError('INSERT', [], pgError('23505', 'duplicate key value'))],
    ['a Kafka protocol refusal', named('KafkaJSProtocolError', 'This server does not host this topic-partition')],
    [
      'a Kafka refusal kafkajs will not retry (too large)',
      named('KafkaJSNonRetriableError', 'The request included a message larger than the max message size'),
    ],
    [
      'a query cancelled or too slow (57014): not an outage',
      pgError('57014', 'canceling statement due to user request'),
    ],
    [
      "fetch's wrapped socket error (another HTTP service)",
      new TypeError('fetch failed', { cause: socketError('ECONNREFUSED', '127.0.0.1', 3003) }),
    ],
    ['nothing', undefined],
  ])('leaves %s alone', (_label, error) => {
    expect(dependencyFailure(error)).toBeUndefined();
  });

  it('is mapped to 503 DEPENDENCY_UNAVAILABLE naming the dependency, failed closed, with Retry-After', () => {
    expect(mapError(new Error('Connection terminated unexpectedly'))).toEqual({
      status: 503,
      body: {
        code: 'DEPENDENCY_UNAVAILABLE',
        message: expect.stringMatching(/^PostgreSQL \(postgres\) is unavailable; the request failed closed/),
      },
      retryAfterSeconds: 1,
    });
    expect(mapError(named('KafkaJSConnectionError', 'x')).body.message).toMatch(/^Kafka \(kafka\) is unavailable/);
    expect(mapError(new Error('Command timed out')).body.message).toMatch(/^Redis \(redis\) is unavailable/);
  });
});
