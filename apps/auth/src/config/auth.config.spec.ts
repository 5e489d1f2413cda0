import { loadConfig } from '@tally/platform';
import { AuthConfig, authEnv, checkAuthConfig } from './auth.config';

const LONG = (name: string) => `${name}-${'x'.repeat(32)}`;
const base = {
  DATABASE_URL: 'postgres://127.0.0.1/tally',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  API_KEY_PEPPER: LONG('pepper'),
  JWT_SECRET: LONG('jwt'),
  SERVICE_TOKENS: LONG('gateway'),
  QUOTA_URL: 'http://127.0.0.1:3003',
  QUOTA_SERVICE_TOKEN: LONG('auth-to-quota'),
};
const check = (overrides: Record<string, string | undefined>) =>
  checkAuthConfig(loadConfig(authEnv, { ...base, ...overrides }) as AuthConfig);

describe('auth configuration', () => {
  it('accepts a production configuration with quota and long, separate credentials', () => {
    expect(check({})).toMatchObject({ TALLY_ENV: 'production', QUOTA_DISABLED: 'false' });
  });

  it('requires QUOTA_URL unless QUOTA_DISABLED=true, which only development allows', () => {
    expect(() => check({ QUOTA_URL: undefined })).toThrow(/QUOTA_URL is required/);
    expect(() => check({ QUOTA_URL: undefined, QUOTA_DISABLED: 'true' })).toThrow(
      /QUOTA_DISABLED .*TALLY_ENV=development/,
    );
    expect(check({ QUOTA_URL: undefined, QUOTA_DISABLED: 'true', TALLY_ENV: 'development' })).toMatchObject({
      QUOTA_DISABLED: 'true',
    });
    expect(() => check({ QUOTA_DISABLED: 'true', TALLY_ENV: 'development' })).toThrow(/choose one/);
  });

  it('requires an outbound credential for quota that auth itself does not accept', () => {
    expect(() => check({ QUOTA_SERVICE_TOKEN: undefined })).toThrow(/QUOTA_SERVICE_TOKEN is required/);
    expect(() => check({ QUOTA_SERVICE_TOKEN: base.SERVICE_TOKENS })).toThrow(/must differ from every SERVICE_TOKENS/);
  });

  it('refuses service credentials under 32 characters outside development', () => {
    expect(() => check({ SERVICE_TOKENS: `dev-service-token,${base.SERVICE_TOKENS}` })).toThrow(/SERVICE_TOKENS/);
    expect(() => check({ QUOTA_SERVICE_TOKEN: 'short' })).toThrow(/QUOTA_SERVICE_TOKEN/);
    expect(check({ SERVICE_TOKENS: 'dev-service-token', TALLY_ENV: 'development' })).toBeDefined();
  });
});
