import { commonEnv, ConfigError, loadConfig } from './env';
import { parseRedisUrl } from './redis-url';

describe('parseRedisUrl', () => {
  it('keeps a single-server URL as written', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://h:6380')).toEqual({ mode: 'single', url: 'rediss://h:6380' });
  });

  it('reads a cluster: seed nodes, credentials, TLS', () => {
    expect(parseRedisUrl('redis+cluster://127.0.0.1:7101,127.0.0.1:7102/')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '127.0.0.1', port: 7101 },
        { host: '127.0.0.1', port: 7102 },
      ],
      username: undefined,
      password: undefined,
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://app:p%40ss@r1.internal:6379,[::1]:6380')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'r1.internal', port: 6379 },
        { host: '::1', port: 6380 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(parseRedisUrl('redis+cluster://:secret@h:1')).toMatchObject({ username: undefined, password: 'secret' });
  });

  it.each([
    ['redis+cluster://', 'host:port'],
    ['redis+cluster://h', 'host:port'],
    ['redis+cluster://h:70000', '"h:70000"'],
    ['redis+cluster://h:1,,h:2', 'host:port'],
    ['http://h:1', 'http:'],
    ['not a url', 'must be a URL'],
  ])('refuses %s', (raw, reason) => {
    expect(() => parseRedisUrl(raw)).toThrow(reason);
  });

  it('is how REDIS_URL is validated at start, naming the variable', () => {
    const base = { DATABASE_URL: 'postgres://h/db', SERVICE_TOKENS: 't' };
    expect(loadConfig(commonEnv, { ...base, REDIS_URL: 'redis+cluster://h:1,h:2' }).REDIS_URL).toBe(
      'redis+cluster://h:1,h:2',
    );
    expect(() => loadConfig(commonEnv, { ...base, REDIS_URL: 'redis+cluster://h' })).toThrow(ConfigError);
    expect(() => loadConfig(commonEnv, { ...base, REDIS_URL: 'redis+cluster://h' })).toThrow(/REDIS_URL/);
  });
});
