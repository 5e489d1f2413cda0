import { Logger } from '@nestjs/common';
import { KafkaModuleOptions } from '@tally/kafka';
import { BalanceCache } from '@tally/redis';
import { MeteringConfig } from '../config/metering.config';
import { OutboxSignal } from '../outbox/outbox-signal';
import { LedgerDatabase, LedgerRepository, LockedOrgs, ReportSequence } from './ledger.repository';
import { LedgerService, Posted } from './ledger.service';
import { MeteringEvent } from './metering-event';
import { PostingObservers } from './posting-observers';
import { ShapeCatalog } from './shape-catalog.service';

const ORG = 'ORG-0123456789ABCDEFGHJKMNPQRS';
const UNKNOWN = 'ORG-0123456789ABCDEFGHJKMNPQRT';
const T0 = new Date('2026-06-01T00:00:00Z');

/** Everything the service does, in order, across its fakes. */
let log: string[];

const agent = (id: string, orgId = ORG): MeteringEvent => ({
  source: 's',
  id,
  topic: 't',
  partition: 0,
  offset: '0',
  orgId,
  at: T0,
  kind: 'agent',
  runId: 'r',
  credits: 5n,
  usageKind: 'tool',
});
const report = (id: string, sequence: number): MeteringEvent => ({
  ...agent(id),
  kind: 'sandbox',
  type: 'sandbox.heartbeat',
  sandboxId: 'sbx',
  shape: 'small',
  runtimeMs: 1_000n,
  sequence,
});

/** A ledger repository over in-memory state: orgs that exist and the dedupe keys seen so far. */
function fakeRepository(seen: Set<string>) {
  return {
    tx: {},
    lockAndMarkProcessed: jest.fn(
      async (orgIds: string[], events: MeteringEvent[], _skipLocked: boolean, reports: ReportSequence[] = []) => {
        log.push(`lock ${orgIds.join(',')}`);
        const known = new Set<string>(orgIds.filter((orgId) => orgId === ORG));
        const keys = [
          ...events.map((e) => ({ orgId: e.orgId, key: `${e.source}|${e.id}` })),
          ...reports.map((r) => ({ orgId: r.orgId, key: `report:${r.orgId}|${r.sandboxId}|${r.sequence}` })),
        ];
        const firstSeen = new Set<string>();
        for (const { orgId, key } of keys) {
          if (!known.has(orgId) || seen.has(key)) continue;
          seen.add(key);
          firstSeen.add(key);
        }
        return { known, firstSeen } satisfies LockedOrgs;
      },
    ),
    lockPackages: jest.fn(async () => new Map([[ORG, []]])),
    lockHolds: jest.fn(async () => []),
    writePosting: jest.fn(async (write: { entries?: { eventId: string }[] }) => {
      log.push(`write ${[...new Set((write.entries ?? []).map((e) => e.eventId))].join(',')}`);
    }),
    requestRefresh: jest.fn(async (orgIds: string[]) => {
      log.push(`request refresh ${orgIds.join(',')}`);
      return orgIds.map((orgId) => ({ orgId, generation: '1' }));
    }),
  };
}

function setup(options: { refreshFails?: boolean } = {}) {
  const seen = new Set<string>();
  const repository = fakeRepository(seen);
  const database = {
    transaction: async <R>(work: (ledger: LedgerRepository) => Promise<R>) => {
      const result = await work(repository as unknown as LedgerRepository);
      log.push('commit');
      return result;
    },
    balances: async (orgIds: string[]) => new Map(orgIds.map((orgId) => [orgId, {}])),
    refreshed: async (requests: { orgId: string }[]) => void log.push(`refreshed ${requests.map((r) => r.orgId)}`),
    refreshFailed: async (orgIds: string[]) => void log.push(`refresh failed ${orgIds.join(',')}`),
  } as unknown as LedgerDatabase;
  const balances = {
    apply: jest.fn(async (orgId: string, _balance: unknown, settled: string[]) => {
      log.push(`refresh ${orgId}${settled.length ? ` settled ${settled.join(',')}` : ''}`);
      if (options.refreshFails) throw new Error('redis down');
    }),
  } as unknown as BalanceCache;
  const shapes = { pricesFor: async () => new Map([['small', '1']]) } as unknown as ShapeCatalog;
  const outbox = { notify: () => log.push('notify') } as unknown as OutboxSignal;
  const observers = new PostingObservers();
  observers.register({ afterPosting: async ({ orgIds }) => void log.push(`observers ${orgIds.join(',')}`) });
  const config = { ACTION_FIXED_COSTS: new Map(), HOLD_GRACE_SECONDS: 60 } as unknown as MeteringConfig;
  const kafka = { topicPrefix: 'p.' } as KafkaModuleOptions;
  const sut = new LedgerService(database, config, kafka, balances, shapes, outbox, observers);
  return { sut, repository, seen };
}

const posted = (orgIds: string[], outbox = true): Posted<string> => ({
  value: 'done',
  change: { orgIds, events: [] },
  refresh: orgIds,
  outbox,
});

describe(LedgerService.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => (log = []));

  describe('postUnderLock', () => {
    it('locks, posts, runs the observers inside the transaction; wakes the relay and refreshes Redis after the commit', async () => {
      const { sut } = setup();
      const value = await sut.postUnderLock('grant', [ORG], [], async () => {
        log.push('post');
        return posted([ORG]);
      });
      expect(value).toBe('done');
      expect(log).toEqual([
        `lock ${ORG}`,
        'post',
        `observers ${ORG}`,
        `request refresh ${ORG}`,
        'commit',
        'notify',
        `refresh ${ORG}`,
        `refreshed ${ORG}`,
      ]);
    });

    it('runs no observers for expiry (POSTING_STEPS)', async () => {
      const { sut } = setup();
      await sut.postUnderLock('expiry', [ORG], [], async () => posted([ORG]));
      expect(log).toEqual([
        `lock ${ORG}`,
        `request refresh ${ORG}`,
        'commit',
        'notify',
        `refresh ${ORG}`,
        `refreshed ${ORG}`,
      ]);
    });

    it('fails a batch whose Redis refresh failed (its offsets stay uncommitted); a grant leaves it to the refresher', async () => {
      const { sut } = setup({ refreshFails: true });
      await expect(sut.postUnderLock('events', [ORG], [], async () => posted([ORG]))).rejects.toThrow('redis down');
      log = [];
      await expect(sut.postUnderLock('grant', [ORG], [], async () => posted([ORG]))).resolves.toBe('done');
      expect(log.slice(-2)).toEqual([`refresh ${ORG}`, `refresh failed ${ORG}`]);
    });

    it('runs no observers and wakes no relay when nothing was posted', async () => {
      const { sut } = setup();
      await sut.postUnderLock('events', [ORG], [], async () => ({ ...posted([ORG], false), change: null }));
      expect(log).toEqual([`lock ${ORG}`, 'commit', `refresh ${ORG}`]);
    });
  });

  describe('post', () => {
    it('posts first-seen events once; a redelivery refreshes Redis without posting again', async () => {
      const { sut } = setup();
      expect(await sut.post([agent('a'), agent('a'), agent('b')])).toMatchObject({ applied: 2, duplicates: 1 });
      expect(log).toEqual([`lock ${ORG}`, 'write a,b', `observers ${ORG}`, 'commit', 'notify', `refresh ${ORG}`]);
      log = [];
      expect(await sut.post([agent('a')])).toMatchObject({ applied: 0, duplicates: 1 });
      expect(log).toEqual([`lock ${ORG}`, 'commit', `refresh ${ORG}`]);
    });

    it('dedupes runtime reports by (org, sandbox, sequence) as well as by (source, id)', async () => {
      const { sut, seen } = setup();
      expect(await sut.post([report('r1', 1)])).toMatchObject({ applied: 1 });
      expect(seen.has(`report:${ORG}|sbx|1`)).toBe(true);
      expect(await sut.post([report('r1-resent', 1), report('r2', 2)])).toMatchObject({ applied: 1, duplicates: 1 });
      expect(log.filter((line) => line.startsWith('write'))).toEqual(['write r1', 'write r2']);
    });

    it('rejects events of an organization that does not exist, and posts the rest', async () => {
      const { sut } = setup();
      const result = await sut.post([agent('a', UNKNOWN), agent('b')]);
      expect(result).toMatchObject({ applied: 1, duplicates: 0 });
      expect(result.rejected).toEqual([expect.objectContaining({ reasonClass: 'unknown-organization' })]);
    });
  });
});
