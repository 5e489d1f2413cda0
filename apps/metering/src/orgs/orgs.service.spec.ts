import { Logger } from '@nestjs/common';
import { TallyError } from '@tally/contracts';
import { OrgStateCache } from '@tally/redis';
import { EntityManager } from 'typeorm';
import { MeteringConfig } from '../config/metering.config';
import { decodeOrgEvent } from './org-events.consumer';
import { EventRef } from '../ledger/metering-event';
import { OrgChanges, OrgRow, OrgsRepository } from './orgs.repository';
import { OrgsService } from './orgs.service';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';
const T0 = new Date('2026-06-01T00:00:00Z');
const EVENT: EventRef = { source: '//platform', id: 'e1', topic: 'platform.org.v1', partition: 0, offset: '7' };

/** The organizations table in memory, and every step in order. */
function setup(options: { processed?: boolean; redisDown?: boolean } = {}) {
  const log: string[] = [];
  const rows = new Map<string, OrgRow>([
    [
      ORG,
      {
        id: ORG,
        name: 'Acme',
        plan: 'free',
        status: 'active',
        suspendedReason: null,
        version: 1,
        createdAt: T0,
        updatedAt: T0,
      },
    ],
  ]);
  const tx = {} as EntityManager;
  const repository = {
    transaction: async <T>(work: (tx: EntityManager) => Promise<T>) => {
      log.push('begin');
      const result = await work(tx);
      log.push('commit');
      return result;
    },
    find: async (orgId: string) => rows.get(orgId) ?? null,
    planExists: async (_tx: EntityManager, plan: string) => ['free', 'pro'].includes(plan),
    insert: async (_tx: EntityManager, org: { id: string; name: string; plan: string }) => {
      if (rows.has(org.id)) return null;
      const row: OrgRow = { ...org, status: 'active', suspendedReason: null, version: 1, createdAt: T0, updatedAt: T0 };
      rows.set(org.id, row);
      log.push('insert');
      return row;
    },
    lock: async (_tx: EntityManager, orgId: string) => rows.get(orgId) ?? null,
    update: async (_tx: EntityManager, orgId: string, changes: OrgChanges) => {
      const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
      const row = { ...rows.get(orgId)!, ...defined, version: rows.get(orgId)!.version + 1 };
      rows.set(orgId, row);
      log.push(`update v${row.version}`);
      return row;
    },
    markProcessed: async () => {
      log.push('processed');
      return !options.processed;
    },
  };
  const cache = {
    announce: async (orgId: string, state: { version: number; suspended: boolean; plan: string }) => {
      if (options.redisDown) throw new Error('connection refused');
      log.push(
        `announce ${orgId === ORG ? 'ORG' : orgId} v${state.version} ${state.suspended ? 'suspended' : 'active'} ${state.plan}`,
      );
    },
  };
  const config = { ALERT_THRESHOLDS: [50, 80, 95, 100] } as MeteringConfig;
  const sut = new OrgsService(repository as unknown as OrgsRepository, cache as unknown as OrgStateCache, config);
  return { sut, log, rows };
}

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof TallyError ? error.code : String(error)),
  );

describe(OrgsService.name, () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));

  describe('apply', () => {
    it('suspends in one transaction, then stores and announces the new state', async () => {
      const { sut, log } = setup();
      await expect(sut.apply({ orgId: ORG, operation: 'suspend', reason: 'unpaid' }, EVENT)).resolves.toMatchObject({
        status: 'suspended',
        suspendedReason: 'unpaid',
        version: 2,
      });
      expect(log).toEqual(['begin', 'processed', 'update v2', 'commit', 'announce ORG v2 suspended free']);
    });

    it('changes nothing for a redelivered event, and announces the state again (heals a lost announcement)', async () => {
      const { sut, log } = setup({ processed: true });
      await expect(sut.apply({ orgId: ORG, operation: 'suspend' }, EVENT)).resolves.toMatchObject({ version: 1 });
      expect(log).toEqual(['begin', 'processed', 'commit', 'announce ORG v1 active free']);
    });

    it('keeps the version when nothing differs (resume of an active org, the same name)', async () => {
      const { sut, log } = setup();
      await sut.apply({ orgId: ORG, operation: 'resume' });
      await sut.apply({ orgId: ORG, operation: 'rename', name: 'Acme' });
      expect(log.filter((step) => step.startsWith('update'))).toEqual([]);
    });

    it('refuses by name: an unknown org, an existing id, a plan not in the catalog', async () => {
      const { sut } = setup();
      const other = 'ORG-0123456789ABCDEFGHJKMNPQRT';
      expect(await code(sut.apply({ orgId: other, operation: 'suspend' }))).toBe('NOT_FOUND');
      expect(await code(sut.apply({ orgId: ORG, operation: 'create', name: 'Again' }))).toBe('CONFLICT');
      expect(await code(sut.apply({ orgId: ORG, operation: 'change_plan', plan: 'platinum' }))).toBe('INVALID_REQUEST');
      expect(await code(sut.create({ name: 'New', plan: 'platinum' }))).toBe('INVALID_REQUEST');
    });

    it('answers 503 when Redis does not take the committed change (repeat it)', async () => {
      const { sut, rows } = setup({ redisDown: true });
      expect(await code(sut.apply({ orgId: ORG, operation: 'suspend' }))).toBe('DEPENDENCY_UNAVAILABLE');
      expect(rows.get(ORG)!.status).toBe('suspended');
    });
  });

  describe('update', () => {
    it('renames and re-plans in one transaction and one version', async () => {
      const { sut, log } = setup();
      await expect(sut.update(ORG, { name: 'Acme Corp', plan: 'pro' })).resolves.toMatchObject({
        name: 'Acme Corp',
        plan: 'pro',
        version: 2,
      });
      expect(log).toEqual(['begin', 'update v2', 'commit', 'announce ORG v2 active pro']);
    });
  });
});

describe('decodeOrgEvent', () => {
  const message = (value: unknown, key: string | null = ORG) =>
    ({ key: key === null ? null : Buffer.from(key), value: Buffer.from(JSON.stringify(value)) }) as never;
  const event = (data: Record<string, unknown>) => ({
    specversion: '1.0',
    id: 'e1',
    source: '//platform',
    type: 'org.requested',
    subject: ORG,
    time: T0.toISOString(),
    data: { orgId: ORG, ...data },
  });

  it('accepts each operation with its fields', () => {
    expect(decodeOrgEvent(message(event({ operation: 'create', name: 'Acme' })))).toMatchObject({ ok: true });
    expect(decodeOrgEvent(message(event({ operation: 'change_plan', plan: 'pro' })))).toMatchObject({ ok: true });
    expect(decodeOrgEvent(message(event({ operation: 'resume' })))).toMatchObject({ ok: true });
  });

  it('names what is wrong: not JSON, a missing field, control characters, another org in the key', () => {
    expect(decodeOrgEvent({ key: null, value: Buffer.from('{') } as never)).toMatchObject({
      reasonClass: 'unparseable',
    });
    expect(decodeOrgEvent(message(event({ operation: 'change_plan' })))).toMatchObject({
      reason: expect.stringContaining('data.plan: is required for change_plan'),
    });
    expect(decodeOrgEvent(message(event({ operation: 'rename', name: 'a\u0007b' })))).toMatchObject({
      reasonClass: 'schema',
    });
    expect(decodeOrgEvent(message(event({ operation: 'resume' }), 'ORG-0123456789ABCDEFGHJKMNPQRT'))).toMatchObject({
      reasonClass: 'key',
    });
  });
});
