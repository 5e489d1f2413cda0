import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { KafkaStartup } from '@tally/kafka';
import { listeningPort } from '@tally/platform';
import { bootstrapAuth } from '../apps/auth/src/bootstrap';
import { loadAuthConfig } from '../apps/auth/src/config/auth.config';
import { bootstrapMetering } from '../apps/metering/src/bootstrap';
import { loadMeteringConfig } from '../apps/metering/src/config/metering.config';
import { bootstrapQuota } from '../apps/quota/src/bootstrap';
import { loadQuotaConfig } from '../apps/quota/src/config/quota.config';
import { bootstrapUpstreamExample } from '../apps/upstream-example/src/bootstrap';
import { loadUpstreamConfig } from '../apps/upstream-example/src/config/upstream.config';

/**
 * The one door from the end-to-end tests into the apps: start an app in a test context (its
 * configuration validated as at a real start, no signal handlers), and the few app internals a
 * test drives directly. Test files import this file, never `apps/*` themselves.
 */
export type AppName = 'auth' | 'metering' | 'quota' | 'upstream-example';

type Env = Record<string, string | undefined>;

const starters: Record<AppName, (env: Env) => Promise<NestFastifyApplication>> = {
  auth: (env) => bootstrapAuth(loadAuthConfig(env), { shutdownHooks: false }),
  metering: (env) => bootstrapMetering(loadMeteringConfig(env), { shutdownHooks: false }),
  quota: (env) => bootstrapQuota(loadQuotaConfig(env), { shutdownHooks: false }),
  'upstream-example': (env) => bootstrapUpstreamExample(loadUpstreamConfig(env), { shutdownHooks: false }),
};

/**
 * Boots `name` with `env` (usually `ctx.env({...})`), listening on a free port; close it with
 * `app.close()`. An app listens before Kafka is reached (its topics, producer and consumers start
 * in the background: KafkaStartup); by default this waits for that too, so a test may produce to
 * the app's topics at once. `waitForKafka: false`: return as soon as it listens.
 */
export async function startApp(
  name: AppName,
  env: Env,
  options: { waitForKafka?: boolean } = {},
): Promise<NestFastifyApplication> {
  const app = await starters[name](env);
  if (name !== 'upstream-example' && options.waitForKafka !== false) await app.get(KafkaStartup).whenDone();
  return app;
}

/** Where a started app listens. */
export const appUrl = (app: NestFastifyApplication): string => `http://127.0.0.1:${listeningPort(app)}`;

export { signDashboardJwt } from '../apps/auth/src/dashboard-auth/jwt-signer';
export type { Role } from '../apps/auth/src/dashboard-auth/jwt-verifier';
export { KeyCacheService } from '../apps/auth/src/key-cache/key-cache.service';
export { ExpiryService } from '../apps/metering/src/expiry/expiry.service';
export { verifySignature } from '../apps/metering/src/notifier/webhook-signature';
export { reconcile } from '../apps/metering/src/reconcile/reconcile';
