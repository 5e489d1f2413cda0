import { ConfigError, env, EnvVar } from '@tally/platform';

/** `50,80,95,100`: integer percentages of the active package total consumed. */
const percentages = (fallback: string): EnvVar<number[]> => ({
  describe: 'depletion alert thresholds, percent of the active package total consumed (100 = none left)',
  parse(raw, name) {
    const text = raw?.trim() ? raw : fallback;
    const values = text.split(',').map((item) => Number(item.trim()));
    if (values.some((v) => !Number.isInteger(v) || v <= 0 || v > 100))
      throw new ConfigError(name, 'must be integers in 1..100, comma-separated');
    return [...new Set(values)].sort((a, b) => a - b);
  },
});

/**
 * Ops, alerts and notifier settings of metering (spread into `meteringEnv`, validated with it).
 */
export const opsEnv = {
  ALERT_THRESHOLDS: percentages('50,80,95,100'),
  ALERT_FORECAST_HORIZON_HOURS: env.int(
    'raise the forecast alert when the balance empties within this many hours',
    24,
    1,
    8_760,
  ),
  AUTH_URL: env.url("auth's base URL (verifies API keys on /api/orgs/*)", ['http', 'https'], 'http://127.0.0.1:3001'),
  AUTH_SERVICE_TOKEN: env.string("metering's credential for auth's verify (x-service-token)", ''),
  NOTIFIER: env.oneOf('deliver alerts to webhooks from this instance', ['true', 'false'] as const, 'true'),
  NOTIFIER_POLL_MS: env.int('delivery worker poll period when idle', 500, 10, 60_000),
  NOTIFIER_BACKOFF_MS: env.int('first retry delay of a failed delivery (doubles, with jitter)', 1_000, 1, 600_000),
  NOTIFIER_MAX_BACKOFF_MS: env.int('longest retry delay of a failed delivery', 300_000, 1, 86_400_000),
  NOTIFIER_MAX_ATTEMPTS: env.int('attempts before a delivery is given up', 8, 1, 100),
  NOTIFIER_DEAD_AFTER: env.int(
    'deliveries given up in a row (attempts exhausted) after which an endpoint is marked dead',
    5,
    1,
    10_000,
  ),
  NOTIFIER_TIMEOUT_MS: env.int('longest wait for a webhook answer', 5_000, 10, 60_000),
  WEBHOOK_PRIVATE_TARGETS: env.oneOf(
    'webhooks to loopback, private or link-local addresses: allowed, denied, or allowed only when TALLY_ENV=development',
    ['allow', 'deny', 'development'] as const,
    'development',
  ),
  RECONCILE_INTERVAL_MS: env.int('period of the drift check exported as a metric (0 = off)', 300_000, 0, 86_400_000),
};
