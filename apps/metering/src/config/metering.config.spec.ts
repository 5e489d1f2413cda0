import { ConfigError, loadConfig } from '@tally/platform';
import { checkMeteringConfig, MeteringConfig, meteringEnv } from './metering.config';

const LONG = (name: string) => `${name}-${'x'.repeat(32)}`;
const base = {
  DATABASE_URL: 'postgres://127.0.0.1/tally',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  SERVICE_TOKENS: LONG('billing'),
  AUTH_SERVICE_TOKEN: LONG('metering-to-auth'),
};
const check = (overrides: Record<string, string | undefined>) =>
  checkMeteringConfig(loadConfig(meteringEnv, { ...base, ...overrides }) as MeteringConfig);

// Issue 11, finding 6: no weak service credential outside development, and metering's credential
// towards auth is its own (whatever answers at AUTH_URL must not be able to replay it here).
describe('metering configuration', () => {
  it('accepts long, separate credentials in production, and no outbound one', () => {
    expect(check({})).toMatchObject({ TALLY_ENV: 'production' });
    expect(check({ AUTH_SERVICE_TOKEN: undefined })).toMatchObject({ AUTH_SERVICE_TOKEN: '' });
  });

  it('refuses service credentials under 32 characters outside development', () => {
    expect(() => check({ SERVICE_TOKENS: 'dev-service-token' })).toThrow(
      /SERVICE_TOKENS each credential must have at least 32 characters/,
    );
    expect(() => check({ AUTH_SERVICE_TOKEN: 'dev-metering-token' })).toThrow(
      /AUTH_SERVICE_TOKEN must have at least 32 characters/,
    );
    expect(() => check({ SERVICE_TOKENS: 'dev-service-token' })).toThrow(ConfigError);
    expect(
      check({
        SERVICE_TOKENS: 'dev-service-token',
        AUTH_SERVICE_TOKEN: 'dev-metering-token',
        TALLY_ENV: 'development',
      }),
    ).toBeDefined();
  });

  it('refuses an outbound credential for auth that metering itself accepts, in development too', () => {
    expect(() => check({ AUTH_SERVICE_TOKEN: base.SERVICE_TOKENS })).toThrow(/AUTH_SERVICE_TOKEN must differ/);
    expect(() =>
      check({ SERVICE_TOKENS: 'dev-a,dev-b', AUTH_SERVICE_TOKEN: 'dev-b', TALLY_ENV: 'development' }),
    ).toThrow(/AUTH_SERVICE_TOKEN must differ/);
  });
});
