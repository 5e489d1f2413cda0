import { createTestContext, expectEventually, TestContext } from '@tally/testing';
import Redis from 'ioredis';
import { AdmissionCache, AdmissionInput } from './admission-cache';
import { BalanceCache, balanceKeys } from './balance-cache';

const HOUR = 3_600_000n;

/** The admission and snapshot scripts against a real Redis: holds, expiry, settlement, rate. */
describe('AdmissionCache (Lua on a real Redis)', () => {
  let ctx: TestContext;
  let redis: Redis;
  let admissions: AdmissionCache;
  let balances: BalanceCache;
  let org = 0;

  beforeAll(async () => {
    ctx = await createTestContext();
    redis = new Redis(ctx.redisUrl);
    admissions = new AdmissionCache(redis, ctx.redisPrefix);
    balances = new BalanceCache(redis, ctx.redisPrefix);
  });

  afterAll(async () => {
    redis?.disconnect();
    await ctx?.dispose();
  });

  /** A fresh org id with a cached balance. */
  async function orgWith(sandboxMs: bigint, extra: { heldMs?: bigint; running?: number; agentMc?: bigint } = {}) {
    const orgId = `ORG-01JTEST${String(org++).padStart(19, '0')}`;
    await balances.apply(orgId, {
      sandboxMs,
      agentMc: extra.agentMc ?? 0n,
      heldMs: extra.heldMs ?? 0n,
      runningSandboxes: extra.running ?? 0,
      version: 1n,
    });
    return orgId;
  }

  let sequence = 0;
  const input = (orgId: string, extra: Partial<AdmissionInput> = {}): AdmissionInput => ({
    orgId,
    keyId: 'k1',
    admissionId: `adm-${sequence++}`,
    kind: 'create',
    fingerprint: 'k1|sandbox.create|3600000',
    reserveMs: HOUR,
    holdTtlMs: 60_000,
    recordTtlMs: 60_000,
    planTier: 0,
    requiredTier: 0,
    concurrentLimit: -1,
    agentReserveMc: 0n,
    orgRatePerSecond: 0,
    keyRatePerSecond: 0,
    ...extra,
  });

  it('answers MISS when the balance is not cached (cold cache), without holding anything', async () => {
    const orgId = 'ORG-01JCOLD0000000000000000000';
    expect(await admissions.admit(input(orgId))).toEqual({ outcome: 'MISS' });
    expect(await admissions.provisional(orgId)).toEqual({ totalMs: 0n, holds: 0, creates: 0 });
  });

  it('counts durable holds and provisional holds against the balance', async () => {
    const orgId = await orgWith(2n * HOUR, { heldMs: HOUR });
    expect(await admissions.admit(input(orgId))).toMatchObject({ outcome: 'ADMIT', reservedMs: HOUR, replay: false });
    expect(await admissions.admit(input(orgId))).toEqual({ outcome: 'INSUFFICIENT_SANDBOX_HOURS', availableMs: 0n });
    expect(await admissions.provisional(orgId)).toEqual({ totalMs: HOUR, holds: 1, creates: 1 });
  });

  it('releases expired provisional holds inside the next decision', async () => {
    const orgId = await orgWith(HOUR);
    expect(await admissions.admit(input(orgId, { holdTtlMs: 50 }))).toMatchObject({ outcome: 'ADMIT' });
    expect(await admissions.admit(input(orgId))).toMatchObject({ outcome: 'INSUFFICIENT_SANDBOX_HOURS' });
    await expectEventually(async () =>
      expect(await admissions.admit(input(orgId))).toMatchObject({ outcome: 'ADMIT' }),
    );
    expect(await admissions.provisional(orgId)).toEqual({ totalMs: HOUR, holds: 1, creates: 1 });
  });

  it('settles provisional holds when metering applies a snapshot with them as durable holds', async () => {
    const orgId = await orgWith(2n * HOUR);
    const first = input(orgId);
    await admissions.admit(first);
    // Metering: the verified event made it durable (held_ms up, one running) in one newer snapshot.
    await balances.apply(orgId, { sandboxMs: 2n * HOUR, agentMc: 0n, heldMs: HOUR, runningSandboxes: 1, version: 2n }, [
      first.admissionId,
    ]);
    expect(await admissions.provisional(orgId)).toEqual({ totalMs: 0n, holds: 0, creates: 0 });
    expect(await admissions.admit(input(orgId))).toMatchObject({ outcome: 'ADMIT' });
    expect(await admissions.admit(input(orgId))).toEqual({ outcome: 'INSUFFICIENT_SANDBOX_HOURS', availableMs: 0n });
    // A replay of the settled admission answers the same, and holds nothing more.
    expect(await admissions.admit(first)).toMatchObject({ outcome: 'ADMIT', replay: true });
    expect((await admissions.provisional(orgId)).totalMs).toBe(HOUR);
  });

  it('counts running and starting sandboxes against the concurrency limit; extensions do not count', async () => {
    const orgId = await orgWith(100n * HOUR, { running: 1 });
    expect(await admissions.admit(input(orgId, { concurrentLimit: 2 }))).toMatchObject({ outcome: 'ADMIT' });
    expect(await admissions.admit(input(orgId, { concurrentLimit: 2 }))).toEqual({
      outcome: 'CONCURRENT_SANDBOX_LIMIT',
      running: 1,
      provisional: 1,
      limit: 2,
    });
    expect(await admissions.admit(input(orgId, { concurrentLimit: 2, kind: 'extend' }))).toMatchObject({
      outcome: 'ADMIT',
    });
    // A create that costs nothing still counts as starting.
    const free = await orgWith(0n);
    expect(await admissions.admit(input(free, { concurrentLimit: 1, reserveMs: 0n }))).toMatchObject({
      outcome: 'ADMIT',
    });
    expect(await admissions.admit(input(free, { concurrentLimit: 1, reserveMs: 0n }))).toMatchObject({
      outcome: 'CONCURRENT_SANDBOX_LIMIT',
    });
  });

  it('releases a hold once and tombstones the id', async () => {
    const orgId = await orgWith(HOUR);
    const request = input(orgId);
    await admissions.admit(request);
    expect(await admissions.release(orgId, request.admissionId, 60_000)).toEqual({
      releasedMs: HOUR,
      releasedMc: 0n,
      known: true,
    });
    expect(await admissions.release(orgId, request.admissionId, 60_000)).toEqual({
      releasedMs: 0n,
      releasedMc: 0n,
      known: true,
    });
    expect(await admissions.admit(request)).toEqual({ outcome: 'RELEASED' });
    expect(await admissions.release(orgId, 'never-admitted', 60_000)).toEqual({
      releasedMs: 0n,
      releasedMc: 0n,
      known: false,
    });
    expect(await admissions.admit(input(orgId, { admissionId: 'never-admitted' }))).toEqual({ outcome: 'RELEASED' });
  });

  it('limits the rate per key and per org (GCRA, one second of burst), without charging replays', async () => {
    const orgId = await orgWith(0n, { agentMc: 1_000n });
    // agent.run: metered (so replays are remembered) and holds nothing.
    const none = (keyId: string, admissionId?: string) =>
      admissions.admit(
        input(orgId, {
          kind: 'agent',
          keyId,
          orgRatePerSecond: 5,
          keyRatePerSecond: 3,
          reserveMs: 0n,
          ...(admissionId ? { admissionId } : {}),
        }),
      );
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await none('a', `same-${orgId}-${i}`)).outcome);
    // Replays of admitted ids spend no token.
    for (let i = 0; i < 3; i++) outcomes.push((await none('a', `same-${orgId}-${i}`)).outcome);
    outcomes.push((await none('a')).outcome);
    expect(outcomes).toEqual(['ADMIT', 'ADMIT', 'ADMIT', 'ADMIT', 'ADMIT', 'ADMIT', 'RATE_LIMITED']);
    expect(await none('b')).toMatchObject({ outcome: 'ADMIT' });
    expect(await none('b')).toMatchObject({ outcome: 'ADMIT' });
    const limited = await none('c');
    expect(limited).toMatchObject({ outcome: 'RATE_LIMITED', scope: 'organization' });
    expect(limited.outcome === 'RATE_LIMITED' && limited.waitMs).toBeGreaterThan(0);
    expect(limited.outcome === 'RATE_LIMITED' && limited.waitMs).toBeLessThanOrEqual(200);
  });

  it('keeps no replay record for a rate-only admission', async () => {
    const orgId = await orgWith(0n);
    const request = input(orgId, { kind: 'none', reserveMs: 0n, orgRatePerSecond: 0, keyRatePerSecond: 0 });
    expect(await admissions.admit(request)).toMatchObject({ outcome: 'ADMIT', replay: false });
    expect(await redis.exists(balanceKeys(ctx.redisPrefix, orgId).admission(request.admissionId))).toBe(0);
  });

  it('stores GCRA times as exact integers (no %.14g rounding of microsecond epochs)', async () => {
    const orgId = await orgWith(0n);
    await admissions.admit(input(orgId, { kind: 'none', reserveMs: 0n, orgRatePerSecond: 10, keyRatePerSecond: 10 }));
    const stored = await redis.get(balanceKeys(ctx.redisPrefix, orgId).orgRate);
    expect(stored).toMatch(/^\d{16}$/);
  });

  it('checks the agent minimum and the plan tier', async () => {
    const orgId = await orgWith(HOUR, { agentMc: 999n });
    expect(await admissions.admit(input(orgId, { kind: 'agent', reserveMs: 0n, agentReserveMc: 1000n }))).toEqual({
      outcome: 'INSUFFICIENT_AGENT_CREDITS',
      availableMc: 999n,
    });
    expect(await admissions.admit(input(orgId, { requiredTier: 1 }))).toEqual({ outcome: 'PLAN_TIER_TOO_LOW' });
  });
  it('takes a snapshot of the same version computed later (time changed it), never one computed earlier', async () => {
    const orgId = await orgWith(0n);
    const at = (ms: number) => new Date(1_800_000_000_000 + ms);
    const snapshot = { agentMc: 0n, heldMs: 0n, runningSandboxes: 0, version: 5n };
    expect(await balances.apply(orgId, { ...snapshot, sandboxMs: 0n, validUntil: at(1_000) }, [], at(0))).toBe(true);
    // The same ledger position, past the boundary: the package is active now, the next boundary later.
    expect(await balances.apply(orgId, { ...snapshot, sandboxMs: HOUR, validUntil: at(9_000) }, [], at(1_000))).toBe(
      true,
    );
    expect(await balances.get(orgId)).toMatchObject({ sandboxMs: HOUR, version: 5n, validUntil: at(9_000) });
    // A writer that computed the same version before the boundary is late: refused.
    expect(await balances.apply(orgId, { ...snapshot, sandboxMs: 0n, validUntil: at(1_000) }, [], at(500))).toBe(false);
    // An older version is refused whenever it was computed; a newer one is taken.
    expect(await balances.apply(orgId, { ...snapshot, version: 4n, sandboxMs: 0n }, [], at(5_000))).toBe(false);
    expect(await balances.apply(orgId, { ...snapshot, version: 6n, sandboxMs: 2n * HOUR }, [], at(0))).toBe(true);
    expect(await balances.get(orgId)).toMatchObject({ sandboxMs: 2n * HOUR, version: 6n, validUntil: null });
  });

  it('answers MISS for a snapshot past its valid_until, and admits again once a valid one is applied', async () => {
    const orgId = await orgWith(0n);
    const now = Date.now();
    await balances.apply(
      orgId,
      { sandboxMs: HOUR, agentMc: 0n, heldMs: 0n, runningSandboxes: 0, version: 2n, validUntil: new Date(now - 1) },
      [],
      new Date(now - 10),
    );
    expect(await admissions.admit(input(orgId))).toEqual({ outcome: 'MISS' });
    expect(await admissions.provisional(orgId)).toEqual({ totalMs: 0n, holds: 0, creates: 0 });
    await balances.apply(
      orgId,
      {
        sandboxMs: HOUR,
        agentMc: 0n,
        heldMs: 0n,
        runningSandboxes: 0,
        version: 2n,
        validUntil: new Date(now + 60_000),
      },
      [],
      new Date(now),
    );
    expect(await admissions.admit(input(orgId))).toMatchObject({ outcome: 'ADMIT', reservedMs: HOUR });
  });

  it('answers MISS for a snapshot that does not say until when it is true (written before valid_until existed)', async () => {
    const orgId = await orgWith(HOUR);
    expect(await admissions.admit(input(orgId))).toMatchObject({ outcome: 'ADMIT' });
    await redis.hdel(balanceKeys(ctx.redisPrefix, orgId).balance, 'valid_until');
    expect(await admissions.admit(input(orgId))).toEqual({ outcome: 'MISS' });
  });

  it('keeps the price of the first create of a sandbox: a second create naming it cannot re-price its extends', async () => {
    const orgId = await orgWith(100n * HOUR);
    const sandbox = (shape: string, pricePerHour: string) => ({ id: 'SBX-TWICE', shape, pricePerHour });
    await admissions.admit(input(orgId, { sandbox: sandbox('gpu', '12.5') }));
    await admissions.admit(input(orgId, { sandbox: sandbox('micro', '0.5') }));
    expect(await admissions.provisionalSandbox(orgId, 'SBX-TWICE')).toEqual(sandbox('gpu', '12.5'));
  });

  it("reserves an agent run's fixed cost: one credit left admits one run until metering debits or a release frees it", async () => {
    const orgId = await orgWith(0n, { agentMc: 1000n });
    const run = (admissionId: string) =>
      admissions.admit(input(orgId, { admissionId, kind: 'agent', reserveMs: 0n, agentReserveMc: 1000n }));
    expect(await run('run-1')).toMatchObject({ outcome: 'ADMIT', reservedMs: 1000n });
    expect(await run('run-2')).toEqual({ outcome: 'INSUFFICIENT_AGENT_CREDITS', availableMc: 0n });
    expect(await admissions.provisionalAgent(orgId)).toEqual({ totalMc: 1000n, holds: 1 });
    // Released: the credit is free again.
    expect(await admissions.release(orgId, 'run-1', 60_000)).toMatchObject({ releasedMs: 0n, releasedMc: 1000n });
    expect(await run('run-3')).toMatchObject({ outcome: 'ADMIT' });
    // Settled: metering's snapshot carries the debit and drops the provisional hold at once.
    const settled = { sandboxMs: 0n, agentMc: 0n, heldMs: 0n, runningSandboxes: 0, version: 2n };
    expect(await balances.apply(orgId, settled, ['run-3'])).toBe(true);
    expect(await admissions.provisionalAgent(orgId)).toEqual({ totalMc: 0n, holds: 0 });
    expect(await run('run-4')).toEqual({ outcome: 'INSUFFICIENT_AGENT_CREDITS', availableMc: 0n });
    // An overdraft lets runs go below zero, less the overage already run up.
    await balances.apply(orgId, { ...settled, agentOverdraftMc: 3000n, agentDebtMc: 1000n, version: 3n });
    expect(await run('run-5')).toMatchObject({ outcome: 'ADMIT' });
    expect(await run('run-6')).toMatchObject({ outcome: 'ADMIT' });
    expect(await run('run-7')).toEqual({ outcome: 'INSUFFICIENT_AGENT_CREDITS', availableMc: 0n });
  });

  it("lets an agent run's provisional hold expire", async () => {
    const orgId = await orgWith(0n, { agentMc: 1000n });
    const run = (admissionId: string, holdTtlMs = 60_000) =>
      admissions.admit(input(orgId, { admissionId, kind: 'agent', reserveMs: 0n, agentReserveMc: 1000n, holdTtlMs }));
    expect(await run('short', 50)).toMatchObject({ outcome: 'ADMIT' });
    await expectEventually(async () => expect(await run(`later-${sequence++}`)).toMatchObject({ outcome: 'ADMIT' }));
    expect(await admissions.provisionalAgent(orgId)).toEqual({ totalMc: 1000n, holds: 1 });
  });
});
