import { commonEnv, ConfigError, env, kafkaEnv, loadConfig, loadConfigOrExit } from './env';

const valid = {
  DATABASE_URL: 'postgres://tally:secret@localhost:5432/tally',
  REDIS_URL: 'redis://localhost:6379',
  SERVICE_TOKENS: 'token-a, token-b',
};

const configErrorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig(commonEnv)', () => {
  it('reads a complete source and applies defaults', () => {
    expect(loadConfig(commonEnv, valid)).toEqual({
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: valid.DATABASE_URL,
      REDIS_URL: valid.REDIS_URL,
      REDIS_KEY_PREFIX: 'tally:',
      SERVICE_TOKENS: ['token-a', 'token-b'],
      TALLY_ENV: 'production',
    });
  });

  it('prefers given values over defaults, and treats blank as missing', () => {
    const config = loadConfig(commonEnv, { ...valid, HOST: ' 0.0.0.0 ', LOG_LEVEL: 'debug', REDIS_KEY_PREFIX: '   ' });
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.LOG_LEVEL).toBe('debug');
    expect(config.REDIS_KEY_PREFIX).toBe('tally:');
  });

  it('names a missing DATABASE_URL', () => {
    const { DATABASE_URL: _omitted, ...source } = valid;
    const error = configErrorOf(() => loadConfig(commonEnv, source));
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('is required');
    expect(error.name).toBe('ConfigError');
  });

  it('names a blank DATABASE_URL', () => {
    expect(configErrorOf(() => loadConfig(commonEnv, { ...valid, DATABASE_URL: '  ' })).message).toContain(
      'DATABASE_URL',
    );
  });

  it('names a DATABASE_URL of the wrong protocol', () => {
    const error = configErrorOf(() => loadConfig(commonEnv, { ...valid, DATABASE_URL: 'mysql://x' }));
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('postgres');
  });

  it('names a DATABASE_URL that is not a URL', () => {
    const error = configErrorOf(() => loadConfig(commonEnv, { ...valid, DATABASE_URL: 'not a url' }));
    expect(error.message).toContain('DATABASE_URL');
    expect(error.message).toContain('must be a URL');
  });

  it('accepts postgresql:// and rediss://', () => {
    const config = loadConfig(commonEnv, { ...valid, DATABASE_URL: 'postgresql://h/db', REDIS_URL: 'rediss://h:6380' });
    expect(config.DATABASE_URL).toBe('postgresql://h/db');
    expect(config.REDIS_URL).toBe('rediss://h:6380');
  });

  it('names an unknown LOG_LEVEL and an empty SERVICE_TOKENS list', () => {
    expect(configErrorOf(() => loadConfig(commonEnv, { ...valid, LOG_LEVEL: 'verbose' })).variable).toBe('LOG_LEVEL');
    expect(configErrorOf(() => loadConfig(commonEnv, { ...valid, SERVICE_TOKENS: ' , ,' })).variable).toBe(
      'SERVICE_TOKENS',
    );
  });
});

describe('env.int', () => {
  const spec = { PORT: env.int('port to listen on', 3000, 1, 65535) };

  it('parses integers, trimmed, and applies the default', () => {
    expect(loadConfig(spec, { PORT: '8080' }).PORT).toBe(8080);
    expect(loadConfig(spec, { PORT: ' 42 ' }).PORT).toBe(42);
    expect(loadConfig(spec, {}).PORT).toBe(3000);
    expect(loadConfig(spec, { PORT: '' }).PORT).toBe(3000);
  });

  it('accepts the bounds themselves', () => {
    expect(loadConfig(spec, { PORT: '1' }).PORT).toBe(1);
    expect(loadConfig(spec, { PORT: '65535' }).PORT).toBe(65535);
  });

  it.each(['0', '65536', '-1', '1.5', '1e3', 'abc', '0x10', '+80', '99999999999999999999'])(
    'rejects %j naming the variable',
    (raw) => {
      const error = configErrorOf(() => loadConfig(spec, { PORT: raw }));
      expect(error.variable).toBe('PORT');
      expect(error.message).toContain('PORT');
      expect(error.message).toContain('between 1 and 65535');
    },
  );

  it('allows a default of 0 and negative ranges', () => {
    expect(loadConfig({ N: env.int('n', 0) }, {}).N).toBe(0);
    expect(loadConfig({ N: env.int('n', undefined, -10, 10) }, { N: '-10' }).N).toBe(-10);
  });

  it('is required without a default', () => {
    expect(configErrorOf(() => loadConfig({ WORKERS: env.int('worker count') }, {})).message).toMatch(
      /WORKERS is required \(worker count\)/,
    );
  });
});

describe('env.brokers', () => {
  it('accepts host:port lists, trimmed', () => {
    expect(loadConfig(kafkaEnv, { KAFKA_BROKERS: 'localhost:9092' })).toEqual({
      KAFKA_BROKERS: ['localhost:9092'],
      KAFKA_TOPIC_PREFIX: '',
      KAFKA_REPLICATION_FACTOR: 1,
      KAFKA_MIN_INSYNC_REPLICAS: 1,
    });
    expect(
      loadConfig(kafkaEnv, { KAFKA_BROKERS: 'k:1', KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' }),
    ).toMatchObject({ KAFKA_REPLICATION_FACTOR: 3, KAFKA_MIN_INSYNC_REPLICAS: 2 });
    expect(
      loadConfig(kafkaEnv, { KAFKA_BROKERS: 'kafka-1.internal:9092, kafka_2:19092,10.0.0.3:9093' }).KAFKA_BROKERS,
    ).toEqual(['kafka-1.internal:9092', 'kafka_2:19092', '10.0.0.3:9093']);
  });

  it.each([
    'localhost',
    'localhost:',
    ':9092',
    'localhost:9092,',
    'a:1,,b:2',
    'kafka://localhost:9092',
    'host:123456',
    'ho st:9092',
  ])('rejects %j naming the variable', (raw) => {
    const error = configErrorOf(() => loadConfig(kafkaEnv, { KAFKA_BROKERS: raw }));
    expect(error.variable).toBe('KAFKA_BROKERS');
    expect(error.message).toContain('KAFKA_BROKERS');
    expect(error.message).toContain('host:port');
  });

  it('is required', () => {
    expect(configErrorOf(() => loadConfig(kafkaEnv, {})).variable).toBe('KAFKA_BROKERS');
  });

  it('uses its default when given one', () => {
    expect(loadConfig({ B: env.brokers('b', ['k:1']) }, {}).B).toEqual(['k:1']);
  });
});

describe('loadConfigOrExit', () => {
  class ExitCalled extends Error {
    constructor(readonly code: unknown) {
      super(`process.exit(${String(code)})`);
    }
  }

  let exit: jest.SpiedFunction<typeof process.exit>;
  let write: jest.SpiedFunction<typeof process.stderr.write>;

  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new ExitCalled(code);
    });
    write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    exit.mockRestore();
    write.mockRestore();
  });

  it('exits 1 after writing one line naming the variable', () => {
    const { DATABASE_URL: _omitted, ...source } = valid;
    expect(() => loadConfigOrExit(commonEnv, source)).toThrow(ExitCalled);
    expect(exit).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(1);
    expect(write).toHaveBeenCalledTimes(1);
    const line = String(write.mock.calls[0][0]);
    expect(line).toContain('DATABASE_URL');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd().includes('\n')).toBe(false);
    expect(line).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  it('returns the config without exiting when it is valid', () => {
    expect(loadConfigOrExit(commonEnv, valid).DATABASE_URL).toBe(valid.DATABASE_URL);
    expect(exit).not.toHaveBeenCalled();
    expect(write).not.toHaveBeenCalled();
  });

  it('rethrows errors that are not configuration errors', () => {
    const boom = new TypeError('boom');
    const spec = {
      X: {
        describe: 'x',
        parse: (): string => {
          throw boom;
        },
      },
    };
    expect(() => loadConfigOrExit(spec, {})).toThrow(boom);
    expect(exit).not.toHaveBeenCalled();
    expect(write).not.toHaveBeenCalled();
  });
});
