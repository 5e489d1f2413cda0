import { commonEnv, env, loadConfigOrExit } from '@tally/platform';

export const quotaEnv = {
  ...commonEnv,
  PORT: env.int('HTTP port', 3003, 0, 65535),
  REDIS_TIMEOUT_MS: env.int('longest wait for Redis before a decision fails', 50, 1, 10_000),
};

export type QuotaConfig = { [K in keyof typeof quotaEnv]: ReturnType<(typeof quotaEnv)[K]['parse']> };

export const loadQuotaConfig = (source: Record<string, string | undefined> = process.env): QuotaConfig =>
  loadConfigOrExit(quotaEnv, source) as QuotaConfig;
