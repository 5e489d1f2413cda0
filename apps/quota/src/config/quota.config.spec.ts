import { ConfigError } from '@tally/platform';
import { checkQuotaConfig, QuotaConfig, quotaEnv } from './quota.config';
import { loadConfig } from '@tally/platform';

const LONG = (name: string) => `${name}-${'x'.repeat(32)}`;
const base = {
  DATABASE_URL: 'postgres://127.0.0.1/tally',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  SERVICE_TOKENS: `${LONG('gateway')},${LONG('auth-to-quota')}`,
};
const check = (overrides: Record<string, string | undefined>) =>
  checkQuotaConfig(loadConfig(quotaEnv, { ...base, ...overrides }) as QuotaConfig);

// Issue 11, finding 6: quota accepts no weak service credential outside development.
describe('quota configuration', () => {
  it('accepts long service credentials in production', () => {
    expect(check({})).toMatchObject({ TALLY_ENV: 'production' });
  });

  it('refuses a service credential under 32 characters outside development', () => {
    expect(() => check({ SERVICE_TOKENS: `dev-service-token,${LONG('gateway')}` })).toThrow(ConfigError);
    expect(() => check({ SERVICE_TOKENS: 'dev-service-token' })).toThrow(
      /SERVICE_TOKENS each credential must have at least 32 characters/,
    );
    expect(check({ SERVICE_TOKENS: 'dev-service-token', TALLY_ENV: 'development' })).toBeDefined();
  });
});
