/* The model check's pure half (`npm run check:model`): a seeded workload of upstream inputs and
 * the reference model that says, from those inputs alone, what the ledger must end with. Written
 * apart from apps/metering/src/ledger on purpose: it shares no code with posting.
 *
 * Order independence (so the reference needs no knowledge of delivery order, kills or batching):
 * - a funded org has ONE active package, granted far more than the workload can cost, so every
 *   cost is a debit of that package (no overage, no spill-over); its other packages are never
 *   drawn: one not yet active (notBefore a day ahead, highest priority) and one that expires
 *   mid-run at the lowest priority (forfeited whole);
 * - an unfunded org has no package: every cost is overage;
 * - a voided create has no runtime reports (the sandbox never booted), and every runtime report
 *   uses its sandbox's create shape, so a hold's price does not depend on which event came first. */

export type Kind = 'sandbox' | 'agent';
export const TOPICS = {
  verified: 'auth.action.verified.v1',
  sandbox: 'usage.sandbox.v1',
  agent: 'usage.agent.v1',
  voided: 'auth.admission.voided.v1',
} as const;
export type TopicKey = keyof typeof TOPICS;

/** Price per hour of each shape (the shapes migration): the reference's own copy. */
export const PRICES: Record<string, string> = { micro: '0.5', small: '1', medium: '2', gpu: '12.5' };
/** ACTION_FIXED_COSTS' default: agent.run costs 1 credit. */
export const AGENT_RUN_MC = 1_000n;

export interface GrantSpec {
  orgId: string;
  externalId: string;
  sandboxHours: string;
  agentCredits: string;
  priority: number;
  /** Seconds from the run's start; null = unbounded. */
  notBeforeIn: number | null;
  notAfterIn: number | null;
}

/** One accepted input: what it is (for the reference) and the CloudEvent data sent for it. */
export type Input =
  | { topic: 'verified'; id: string; orgId: string; action: 'agent.run'; admissionId: string }
  | {
      topic: 'verified';
      id: string;
      orgId: string;
      action: 'sandbox.create' | 'sandbox.extend' | 'sandbox.delete';
      sandboxId: string;
      shape: string;
      seconds: number;
      admissionId: string | null;
    }
  | {
      topic: 'sandbox';
      id: string;
      orgId: string;
      type: 'sandbox.heartbeat' | 'sandbox.stopped';
      sandboxId: string;
      shape: string;
      runtimeMs: number;
      sequence: number;
    }
  | { topic: 'agent'; id: string; orgId: string; runId: string; credits: number }
  | { topic: 'voided'; id: string; orgId: string; admissionId: string };

/** What goes on the wire, in order: accepted inputs (some twice) and poison. */
export type Delivery = { input: Input } | { poison: { topic: TopicKey; key: string; value: string } };

export interface Workload {
  orgs: { orgId: string; funded: boolean }[];
  grants: GrantSpec[];
  inputs: Input[];
  deliveries: Delivery[];
}

/** mulberry32: the same seed, the same workload. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Sandbox {
  orgId: string;
  id: string;
  shape: string;
  sequence: number;
  gone: boolean;
}

class Generator {
  readonly inputs: Input[] = [];
  private readonly sandboxes: Sandbox[] = [];
  private n = 0;
  constructor(
    private readonly seed: number,
    readonly random: () => number,
  ) {}

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }
  id(what: string): string {
    return `m${this.seed}-${what}-${this.n++}`;
  }
  private maybeVoid(orgId: string, admissionId: string): boolean {
    if (this.random() >= 0.15) return false;
    this.inputs.push({ topic: 'voided', id: this.id('void'), orgId, admissionId });
    return true;
  }

  agentRun(orgId: string) {
    const admissionId = this.id('adm');
    this.inputs.push({ topic: 'verified', id: this.id('run'), orgId, action: 'agent.run', admissionId });
    this.maybeVoid(orgId, admissionId);
  }
  agentUsage(orgId: string) {
    const credits = 1 + Math.floor(this.random() * 5_000);
    this.inputs.push({ topic: 'agent', id: this.id('use'), orgId, runId: this.id('r'), credits });
  }
  create(orgId: string) {
    const sandbox: Sandbox = {
      orgId,
      id: this.id('sbx'),
      shape: this.pick(Object.keys(PRICES)),
      sequence: 0,
      gone: false,
    };
    const admissionId = this.id('adm');
    const seconds = 600 + Math.floor(this.random() * 3_000);
    const { id: sandboxId, shape } = sandbox;
    this.inputs.push({
      topic: 'verified',
      id: this.id('create'),
      orgId,
      action: 'sandbox.create',
      sandboxId,
      shape,
      seconds,
      admissionId,
    });
    // A voided create never booted: no reports, extends or deletes follow.
    if (!this.maybeVoid(orgId, admissionId)) this.sandboxes.push(sandbox);
  }
  touch() {
    const live = this.sandboxes.filter((s) => !s.gone);
    if (live.length === 0) return false;
    const sandbox = this.pick(live);
    const roll = this.random();
    const { orgId, id: sandboxId, shape } = sandbox;
    if (roll < 0.15) {
      const admissionId = this.id('adm');
      const seconds = 60 + Math.floor(this.random() * 600);
      this.inputs.push({
        topic: 'verified',
        id: this.id('ext'),
        orgId,
        action: 'sandbox.extend',
        sandboxId,
        shape,
        seconds,
        admissionId,
      });
      this.maybeVoid(orgId, admissionId);
    } else if (roll < 0.25) {
      sandbox.gone = true;
      this.inputs.push({
        topic: 'verified',
        id: this.id('del'),
        orgId,
        action: 'sandbox.delete',
        sandboxId,
        shape,
        seconds: 0,
        admissionId: null,
      });
    } else {
      sandbox.sequence += 1;
      const stop = roll > 0.9;
      if (stop) sandbox.gone = true;
      const type = stop ? 'sandbox.stopped' : 'sandbox.heartbeat';
      const runtimeMs = Math.floor(this.random() * 120_000);
      this.inputs.push({
        topic: 'sandbox',
        id: this.id('hb'),
        orgId,
        type,
        sandboxId,
        shape,
        runtimeMs,
        sequence: sandbox.sequence,
      });
    }
    return true;
  }
}

function grantsFor(orgs: Workload['orgs']): GrantSpec[] {
  return orgs
    .filter((org) => org.funded)
    .flatMap(({ orgId }) => [
      {
        orgId,
        externalId: `main-${orgId}`,
        sandboxHours: '100000',
        agentCredits: '10000000',
        priority: 0,
        notBeforeIn: null,
        notAfterIn: null,
      },
      {
        orgId,
        externalId: `future-${orgId}`,
        sandboxHours: '5',
        agentCredits: '50',
        priority: 1000,
        notBeforeIn: 86_400,
        notAfterIn: null,
      },
      {
        orgId,
        externalId: `expiring-${orgId}`,
        sandboxHours: '2',
        agentCredits: '20',
        priority: -1000,
        notBeforeIn: null,
        notAfterIn: 3,
      },
    ]);
}

/**
 * Deliveries: the topics' streams interleaved at random (order kept within a topic, as Kafka
 * keeps it per key), ~10% of inputs delivered again later with the same id (duplicates, gateway
 * retries), and ~1 poison event in 40.
 */
function deliveriesOf(inputs: Input[], random: () => number, poison: () => Delivery, faults: Faults): Delivery[] {
  const lanes = new Map<TopicKey, Input[]>();
  for (const input of inputs) lanes.set(input.topic, [...(lanes.get(input.topic) ?? []), input]);
  const out: Delivery[] = [];
  while (lanes.size > 0) {
    const keys = [...lanes.keys()];
    const key = keys[Math.floor(random() * keys.length)];
    const lane = lanes.get(key)!;
    out.push({ input: lane.shift()! });
    if (lane.length === 0) lanes.delete(key);
  }
  const resent = out.filter(() => random() < 0.1);
  for (const again of resent) out.splice(Math.floor(random() * (out.length + 1)), 0, again);
  if (faults.sequenceResends) resendSequences(out, random);
  const poisons = Math.max(1, Math.floor(inputs.length / 40));
  for (let i = 0; i < poisons; i++) out.splice(Math.floor(random() * (out.length + 1)), 0, poison());
  return out;
}

/**
 * A runtime that re-sends a report under a new CloudEvents id (same sandbox and sequence): ~30%
 * of reports, later in the stream. Metering must count it once (issue 10 item 9).
 */
function resendSequences(out: Delivery[], random: () => number): void {
  const reports = out.flatMap((d, at) => ('input' in d && d.input.topic === 'sandbox' ? [{ d: d.input, at }] : []));
  for (const { d, at } of reports.filter(() => random() < 0.3)) {
    const later = at + 1 + Math.floor(random() * (out.length - at));
    out.splice(later, 0, { input: { ...d, id: `${d.id}${RESENT}` } });
  }
}

/** Suffix of the ids a runtime re-sent a report under (never an accepted input of its own). */
export const RESENT = '-resent';

export interface Faults {
  /** Reports re-sent with a new id and the same sequence (needs metering's sequence dedupe). */
  sequenceResends: boolean;
}

/** The seeded workload: `events` accepted inputs over a few orgs (one in four unfunded). */
export function generate(
  seed: number,
  events: number,
  newOrgId: () => string,
  faults: Faults = { sequenceResends: false },
): Workload {
  const random = seededRandom(seed);
  const orgs = Array.from({ length: 2 + Math.floor(random() * 3) }, (_, i) => ({
    orgId: newOrgId(),
    funded: i % 4 !== 3,
  }));
  const gen = new Generator(seed, random);
  while (gen.inputs.length < events) {
    const orgId = gen.pick(orgs).orgId;
    const roll = random();
    if (roll < 0.2) gen.agentRun(orgId);
    else if (roll < 0.35) gen.agentUsage(orgId);
    else if (roll < 0.5 || !gen.touch()) gen.create(orgId);
  }
  let p = 0;
  const poison = (): Delivery => {
    const topic = gen.pick(Object.keys(TOPICS) as TopicKey[]);
    const key = gen.pick(orgs).orgId;
    const marker = `poison-${seed}-${p++}`;
    const value =
      random() < 0.5 ? `{"not json ${marker}` : JSON.stringify({ specversion: '1.0', id: marker, data: {} });
    return { poison: { topic, key, value } };
  };
  return {
    orgs,
    grants: grantsFor(orgs),
    inputs: gen.inputs,
    deliveries: deliveriesOf(gen.inputs, random, poison, faults),
  };
}

/** ms at a price per hour (a decimal string), rounded half up: the reference's own arithmetic. */
export function runtimeCost(ms: number, price: string): bigint {
  const [whole, fraction = ''] = price.split('.');
  const den = 10n ** BigInt(fraction.length);
  return (BigInt(ms) * BigInt(whole + fraction) * 2n + den) / (den * 2n);
}

const toMs = (hours: string) => BigInt(hours) * 3_600_000n;
const toMc = (credits: string) => BigInt(credits) * 1_000n;

export interface Expected {
  /** `${org}|${kind}` → net cost: -(debits + overage + reversals). */
  cost: Map<string, bigint>;
  /** `${org}|${kind}` → overage (unfunded orgs: the cost; funded: 0). */
  overage: Map<string, bigint>;
  /** `${org}|${kind}` → forfeited (the expiring package, whole). */
  forfeit: Map<string, bigint>;
  /** `${org}|${externalId}|${kind}` → remaining. */
  remaining: Map<string, bigint>;
  /** admissionId → its one fate. */
  fates: Map<string, 'settled' | 'voided'>;
  /** `${org}|${sandboxId}` of the holds still active. */
  activeHolds: Set<string>;
}

/** What the ledger must end with, from the accepted inputs alone (each counted once). */
export function reference(workload: Workload): Expected {
  const voided = new Set(workload.inputs.filter((i) => i.topic === 'voided').map((i) => i.admissionId));
  const cost = new Map<string, bigint>();
  const add = (orgId: string, kind: Kind, amount: bigint) =>
    cost.set(`${orgId}|${kind}`, (cost.get(`${orgId}|${kind}`) ?? 0n) + amount);
  const fates = new Map<string, 'settled' | 'voided'>();
  const created = new Set<string>();
  const ended = new Set<string>();
  for (const input of workload.inputs) {
    if (input.topic === 'agent') add(input.orgId, 'agent', BigInt(input.credits));
    if (input.topic === 'sandbox') {
      add(input.orgId, 'sandbox', runtimeCost(input.runtimeMs, PRICES[input.shape]));
      if (input.type === 'sandbox.stopped') ended.add(`${input.orgId}|${input.sandboxId}`);
    }
    if (input.topic !== 'verified') continue;
    const fate = input.admissionId && voided.has(input.admissionId) ? 'voided' : 'settled';
    if (input.admissionId) fates.set(input.admissionId, fate);
    if (input.action === 'agent.run' && fate === 'settled') add(input.orgId, 'agent', AGENT_RUN_MC);
    if (input.action === 'sandbox.create' && fate === 'settled') created.add(`${input.orgId}|${input.sandboxId}`);
    if (input.action === 'sandbox.delete') ended.add(`${input.orgId}|${input.sandboxId}`);
  }
  return { cost, ...balances(workload, cost), fates, activeHolds: new Set([...created].filter((s) => !ended.has(s))) };
}

function balances(workload: Workload, cost: Map<string, bigint>) {
  const overage = new Map<string, bigint>();
  const forfeit = new Map<string, bigint>();
  const remaining = new Map<string, bigint>();
  for (const { orgId, funded } of workload.orgs) {
    for (const kind of ['sandbox', 'agent'] as const) {
      const key = `${orgId}|${kind}`;
      overage.set(key, funded ? 0n : (cost.get(key) ?? 0n));
      forfeit.set(key, 0n);
    }
  }
  for (const grant of workload.grants) {
    for (const kind of ['sandbox', 'agent'] as const) {
      const granted = kind === 'sandbox' ? toMs(grant.sandboxHours) : toMc(grant.agentCredits);
      const key = `${grant.orgId}|${kind}`;
      let left = granted;
      if (grant.notAfterIn !== null) {
        forfeit.set(key, (forfeit.get(key) ?? 0n) + granted);
        left = 0n;
      } else if (grant.notBeforeIn === null) left = granted - (cost.get(key) ?? 0n);
      remaining.set(`${grant.orgId}|${grant.externalId}|${kind}`, left);
    }
  }
  return { overage, forfeit, remaining };
}
