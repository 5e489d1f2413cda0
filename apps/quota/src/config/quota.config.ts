import { checkServiceCredentials, commonEnv, env, kafkaEnv, loadConfigOrExit } from '@tally/platform';

export const QUOTA_CONFIG = Symbol('QUOTA_CONFIG');

export const quotaEnv = {
  ...commonEnv,
  ...kafkaEnv,
  PORT: env.int('HTTP port', 3003, 0, 65535),
  REDIS_TIMEOUT_MS: env.int('longest wait for one Redis command before it fails', 50, 1, 10_000),
  ADMISSION_TIMEOUT_MS: env.int('longest an admission decision may take before it fails (ms)', 50, 1, 10_000),
  ADMISSION_HOLD_TTL_SECONDS: env.int('lifetime of a provisional hold not yet made durable', 300, 1, 86_400),
  ADMISSION_RECORD_TTL_SECONDS: env.int(
    'how long an admission id answers retries with the same decision (>= the hold TTL)',
    900,
    1,
    7 * 86_400,
  ),
  ADMISSION_AGENT_MINIMUM_CREDITS: env.string(
    "agent credits agent.run reserves until metering debits it: its fixed cost (metering's ACTION_FIXED_COSTS for agent.run; decimal)",
    '1',
  ),
  ADMISSION_CONCURRENT_RETRY_AFTER_SECONDS: env.int('Retry-After of CONCURRENT_SANDBOX_LIMIT', 5, 1, 3_600),
  ADMISSION_FAIL_OPEN_ACTIONS: env.list(
    'actions admitted (degraded) when Redis or PostgreSQL cannot answer; default: non-metered actions',
    [],
  ),
  ADMISSION_FAIL_CLOSED_ACTIONS: env.list(
    'actions refused with 503 when Redis or PostgreSQL cannot answer; default: metered actions',
    [],
  ),
  VOID_ACK_TIMEOUT_MS: env.int(
    'a release waits at most this long for Kafka to acknowledge its admission.voided event',
    1_500,
    100,
    60_000,
  ),
  VOID_SOURCE: env.string('CloudEvents source of the admission.voided events quota publishes', '//tally/quota'),
  CATALOG_SOURCE: env.oneOf(
    "where shapes and plans come from: metering's tables, or CATALOG_JSON",
    ['postgres', 'config'] as const,
    'postgres',
  ),
  CATALOG_JSON: env.string(
    'catalog JSON: shapes and plans when CATALOG_SOURCE=config; per-plan rate limits in either case',
    '',
  ),
  CATALOG_REFRESH_SECONDS: env.int('how long shapes, plans and org plans are cached in memory', 30, 1, 3_600),
};

export type QuotaConfig = { [K in keyof typeof quotaEnv]: ReturnType<(typeof quotaEnv)[K]['parse']> };

/** Rules between variables: quota calls no service, so only the credentials it accepts. */
export function checkQuotaConfig(config: QuotaConfig): QuotaConfig {
  checkServiceCredentials(config);
  return config;
}

export const loadQuotaConfig = (source: Record<string, string | undefined> = process.env): QuotaConfig =>
  loadConfigOrExit(quotaEnv, source, (config) => checkQuotaConfig(config as QuotaConfig)) as QuotaConfig;
