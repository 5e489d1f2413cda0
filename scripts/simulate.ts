/* The upstream world, simulated: `npm run simulate -- --orgs N --rate R --duration S`.
 *
 * Plays the sandbox and agent runtimes around Tally: API-key calls verified through auth
 * (`POST /v1/verify`: sandbox.create with a shape and a lifetime, extend, delete, agent.run, and
 * unmetered actions), runtime heartbeats and stops on `usage.sandbox.v1`, agent credit reports on
 * `usage.agent.v1`. With `--direct` it also plays auth, publishing `auth.action.verified.v1`
 * itself (no API keys; for load runs). Organizations are created with a package and an API key.
 *
 * Options: --orgs 20 --rate 50 (events/s) --duration 60 (s) --time-scale 60 (simulated seconds per
 * real second) --seed 1 --direct --auth http://127.0.0.1:3001
 * Environment: DATABASE_URL, KAFKA_BROKERS, KAFKA_TOPIC_PREFIX, and for auth mode SERVICE_TOKENS
 * and API_KEY_PEPPER (auth's); what is not set comes from the last `npm start` (.tally/stack.env). */
import { cloudEvent, DEFAULT_KEY_PREFIX, EventTypes, Topics, topicName } from '@tally/contracts';
import { createDataSource, seedDemoOrganization } from '@tally/database';
import { createKafka, EventPublisher, OutgoingEvent } from '@tally/kafka';
import { UsageReporter } from '@tally/usage-reporter';
import { ulid } from 'ulid';
import { loadStackEnv, requireEnv } from './stack-env';

interface Options {
  orgs: number;
  rate: number;
  duration: number;
  timeScale: number;
  seed: number;
  direct: boolean;
  auth: string;
}

function parseArgs(argv: string[]): Options {
  const value = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
  };
  const num = (name: string, fallback: number) => {
    const n = Number(value(name, String(fallback)));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return {
    orgs: Math.floor(num('orgs', 20)),
    rate: num('rate', 50),
    duration: num('duration', 60),
    timeScale: num('time-scale', 60),
    seed: Math.floor(num('seed', 1)),
    direct: argv.includes('--direct'),
    auth: value('auth', `http://127.0.0.1:${process.env.AUTH_PORT ?? 3001}`),
  };
}

/** mulberry32: a seeded run is repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Realistic mixes: most sandboxes are small and short; GPUs are rare.
const SHAPES: [string, number][] = [
  ['micro', 0.2],
  ['small', 0.4],
  ['medium', 0.25],
  ['large', 0.1],
  ['gpu', 0.05],
];
const LIFETIMES = [300, 900, 1_800, 3_600, 4 * 3_600];
const UNMETERED = ['sandbox.list', 'sandbox.get', 'sandbox.action.execute', 'sandbox.preview', 'sandbox.file.copy'];

interface Org {
  orgId: string;
  apiKey?: string;
}
interface Sandbox {
  org: Org;
  id: string;
  shape: string;
  /** Simulated ms it will run before stopping. */
  plannedMs: number;
  ranMs: number;
  lastReport: number;
}

const sandboxRef = (sandbox: Sandbox) => ({ orgId: sandbox.org.orgId, sandboxId: sandbox.id, shape: sandbox.shape });

async function main(): Promise<void> {
  loadStackEnv();
  const options = parseArgs(process.argv.slice(2));
  const DATABASE_URL = requireEnv('DATABASE_URL');
  const { KAFKA_BROKERS = '127.0.0.1:9092', KAFKA_TOPIC_PREFIX = '' } = process.env;
  const token = (process.env.SERVICE_TOKENS ?? '').split(',')[0];
  const pepper = process.env.API_KEY_PEPPER;
  if (!options.direct && (!token || !pepper)) {
    throw new Error('auth mode needs SERVICE_TOKENS and API_KEY_PEPPER (or pass --direct to play auth too)');
  }
  const random = seeded(options.seed);
  const pick = <T>(weighted: [T, number][]) => {
    let r = random();
    for (const [item, weight] of weighted) if ((r -= weight) <= 0) return item;
    return weighted[weighted.length - 1][0];
  };

  const db = await createDataSource({
    url: DATABASE_URL,
    applicationName: 'tally-simulator',
    poolSize: 2,
  }).initialize();
  const orgs: Org[] = [];
  for (let i = 0; i < options.orgs; i++) {
    const demo = await seedDemoOrganization(db, {
      keyPrefix: process.env.API_KEY_PREFIX ?? DEFAULT_KEY_PREFIX,
      pepper: pepper ?? 'simulator-direct-mode-pepper-unused-000',
      name: `simulated org ${i + 1}`,
      sandboxMs: 100n * 3_600_000n,
      agentMc: 10_000n * 1_000n,
    });
    orgs.push({ orgId: demo.orgId, apiKey: demo.apiKey });
  }
  await db.destroy();

  // Usage as the runtimes report it (the reporter library); auth's verified events in --direct mode.
  const reporter = new UsageReporter({
    brokers: KAFKA_BROKERS.split(','),
    source: '//simulator/runtime',
    topicPrefix: KAFKA_TOPIC_PREFIX,
    clientId: 'tally-simulator',
  });
  const publisher = options.direct
    ? new EventPublisher(createKafka('tally-simulator-auth', KAFKA_BROKERS.split(',')), {
        retries: Number.MAX_SAFE_INTEGER,
      })
    : undefined;
  const topic = (name: string) => topicName(KAFKA_TOPIC_PREFIX, name);
  const stats = { verified: 0, denied: 0, failed: 0, heartbeats: 0, stops: 0, agentReports: 0, refused: 0 };
  const running = new Map<string, Sandbox>();
  let queue: OutgoingEvent[] = [];
  /** A report the reporter refused (its buffer full while Kafka is away) is counted, not retried. */
  const report = (send: () => unknown) => {
    try {
      send();
    } catch (error) {
      stats.refused += 1;
      if (stats.refused === 1) console.error(`simulator: report refused: ${(error as Error).message}`);
    }
  };

  const verify = async (org: Org, action: string, extra: { resource?: unknown; params?: unknown } = {}) => {
    if (options.direct) {
      queue.push({
        topic: topic(Topics.actionVerified),
        key: org.orgId,
        value: cloudEvent({
          id: ulid(),
          source: '//tally/simulator',
          type: EventTypes.actionVerified,
          subject: org.orgId,
          data: {
            orgId: org.orgId,
            keyId: 'simulated-key',
            userId: 'simulated-user',
            action,
            resource: extra.resource ?? null,
            params: extra.params ?? {},
            admissionId: null,
          },
        }),
      });
      stats.verified += 1;
      return true;
    }
    try {
      const response = await fetch(`${options.auth}/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-service-token': token },
        body: JSON.stringify({ key: org.apiKey, action, orgId: org.orgId, ...extra }),
      });
      if (response.ok) stats.verified += 1;
      else stats.denied += 1;
      return response.ok;
    } catch {
      stats.failed += 1;
      return false;
    }
  };
  /** One upstream happening, chosen by a realistic mix. */
  const act = async (now: number) => {
    const org = orgs[Math.floor(random() * orgs.length)];
    const roll = random();
    const due = [...running.values()].find((s) => now - s.lastReport >= 1_000);
    if (due && roll < 0.45) {
      const ranMs = Math.round((now - due.lastReport) * options.timeScale);
      due.lastReport = now;
      due.ranMs += ranMs;
      if (due.ranMs >= due.plannedMs) {
        report(() => reporter.sandboxStopped({ ...sandboxRef(due), runtimeMs: ranMs }));
        running.delete(due.id);
        stats.stops += 1;
        if (random() < 0.5) await verify(due.org, 'sandbox.delete', { resource: { type: 'sandbox', id: due.id } });
      } else {
        report(() => reporter.heartbeat({ ...sandboxRef(due), runtimeMs: ranMs }));
        stats.heartbeats += 1;
      }
    } else if (roll < 0.55) {
      const shape = pick(SHAPES);
      const maxLifeSeconds = LIFETIMES[Math.floor(random() * LIFETIMES.length)];
      const id = `sbx-${ulid()}`;
      if (
        await verify(org, 'sandbox.create', { resource: { type: 'sandbox', id }, params: { shape, maxLifeSeconds } })
      ) {
        const sandbox: Sandbox = {
          org,
          id,
          shape,
          plannedMs: Math.round(maxLifeSeconds * 1000 * (0.3 + random() * 0.7)),
          ranMs: 0,
          lastReport: now,
        };
        running.set(id, sandbox);
        report(() => reporter.sandboxStarted(sandboxRef(sandbox)));
      }
    } else if (roll < 0.6 && running.size > 0) {
      const sandbox = [...running.values()][Math.floor(random() * running.size)];
      await verify(sandbox.org, 'sandbox.extend', {
        resource: { type: 'sandbox', id: sandbox.id },
        params: { extendSeconds: 600 },
      });
    } else if (roll < 0.75) {
      await verify(org, 'agent.run');
    } else if (roll < 0.9) {
      stats.agentReports += 1;
      const kind = pick<'inference' | 'tool' | 'mcp_action'>([
        ['inference', 0.6],
        ['tool', 0.25],
        ['mcp_action', 0.15],
      ]);
      const milliCredits = 50 + Math.floor(random() * 2_000);
      report(() => reporter.agentConsumed({ orgId: org.orgId, runId: `run-${ulid()}`, step: 1, milliCredits, kind }));
    } else {
      await verify(org, UNMETERED[Math.floor(random() * UNMETERED.length)]);
    }
  };

  const flush = async () => {
    const batch = queue;
    queue = [];
    await publisher?.publish(...batch);
  };

  const started = Date.now();
  const tickMs = 50;
  let due = 0;
  let sent = 0;
  let lastLog = started;
  while (Date.now() - started < options.duration * 1000) {
    const tick = Date.now();
    due += (options.rate * tickMs) / 1000;
    const now = Date.now();
    const work: Promise<void>[] = [];
    while (due >= 1) {
      work.push(act(now));
      due -= 1;
      sent += 1;
    }
    await Promise.all(work);
    await flush();
    if (tick - lastLog >= 5_000) {
      lastLog = tick;
      const rate = Math.round((sent * 1000) / (tick - started));
      console.log(
        JSON.stringify({ elapsedS: Math.round((tick - started) / 1000), rate, running: running.size, ...stats }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, tickMs - (Date.now() - tick))));
  }
  // Stop what still runs, so every hold is released.
  for (const sandbox of running.values()) {
    const runtimeMs = Math.round((Date.now() - sandbox.lastReport) * options.timeScale);
    report(() => reporter.sandboxStopped({ ...sandboxRef(sandbox), runtimeMs }));
    stats.stops += 1;
  }
  await flush();
  await Promise.all([reporter.close(), publisher?.disconnect()]);
  const elapsed = (Date.now() - started) / 1000;
  console.log(
    JSON.stringify({ done: true, orgs: orgs.map((o) => o.orgId).slice(0, 5), sent, elapsedS: elapsed, ...stats }),
  );
}

main().catch((error: Error) => {
  console.error(`simulator failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
