import { TallyError } from '@tally/contracts';
import type { AdmissionCache, AdmissionOutcome, AdmissionRecord, BalanceCache } from '@tally/redis';
import { Registry } from 'prom-client';
import { DEFAULT_CATALOG } from '../catalog/catalog-config';
import type { CatalogService } from '../catalog/catalog.service';
import { quotaEnv, QuotaConfig } from '../config/quota.config';
import { loadConfig } from '@tally/platform';
import type { AdmissionVoids } from './admission-voids';
import { AdmissionsService } from './admissions.service';
import type { BalanceSnapshotRepository } from './balance-snapshot.repository';
import type { SandboxPricesRepository } from './sandbox-prices.repository';
import { AdmissionRequest } from './dto/admission.dto';

const ORG = 'ORG-01JC0000000000000000000000';

const config = loadConfig(quotaEnv, {
  DATABASE_URL: 'postgres://unused@127.0.0.1/unused',
  REDIS_URL: 'redis://127.0.0.1:1',
  KAFKA_BROKERS: '127.0.0.1:1',
  SERVICE_TOKENS: 'unused',
  ADMISSION_TIMEOUT_MS: '200',
}) as QuotaConfig;

const newCatalog = () => ({
  orgPlan: jest.fn(async () => 'free'),
  plan: jest.fn(async (name: string) => DEFAULT_CATALOG.plans.find((plan) => plan.name === name)),
  shape: jest.fn(async (name: string) => DEFAULT_CATALOG.shapes.find((shape) => shape.name === name)),
});

const newAdmissionCache = () => ({
  admit: jest.fn<Promise<AdmissionOutcome>, []>(async () => ({
    outcome: 'ADMIT',
    reservedMs: 3_600_000n,
    expiresAtMs: Date.now() + 300_000,
    replay: false,
  })),
  recorded: jest.fn<Promise<AdmissionRecord | null>, []>(async () => null),
  release: jest.fn(async () => ({ releasedMs: 3_600_000n, releasedMc: 0n, known: true })),
});

const create = (admissionId = 'idem-1'): AdmissionRequest => ({
  orgId: ORG,
  keyId: 'key-1',
  action: 'sandbox.create',
  params: { shape: 'small', maxLifeSeconds: 3600 },
  admissionId,
});

const codeOf = async (work: Promise<unknown>) => {
  try {
    await work;
    return 'admitted';
  } catch (error) {
    if (error instanceof TallyError) return error.code;
    throw error;
  }
};

describe(AdmissionsService.name, () => {
  let sut: AdmissionsService;
  let admissions: ReturnType<typeof newAdmissionCache>;
  let catalog: ReturnType<typeof newCatalog>;
  let voids: { publish: jest.Mock };
  let snapshots: { load: jest.Mock };
  let balances: { apply: jest.Mock; now: jest.Mock };
  const REDIS_NOW = new Date('2026-06-01T00:00:00.000Z');
  let sandboxes: { running: jest.Mock };

  beforeEach(() => {
    admissions = newAdmissionCache();
    catalog = newCatalog();
    voids = { publish: jest.fn(async () => undefined) };
    snapshots = { load: jest.fn(async () => ({ version: 1n })) };
    balances = { apply: jest.fn(), now: jest.fn(async () => REDIS_NOW) };
    sandboxes = { running: jest.fn(async () => null) };
    sut = new AdmissionsService(
      config,
      snapshots as unknown as BalanceSnapshotRepository,
      admissions as unknown as AdmissionCache,
      balances as unknown as BalanceCache,
      catalog as unknown as CatalogService,
      voids as unknown as AdmissionVoids,
      sandboxes as unknown as SandboxPricesRepository,
      new Registry(),
    );
  });

  describe('admit', () => {
    it('holds through one Lua call when the caller still waits', async () => {
      const granted = await sut.admit(create(), Date.now() + 1_000);
      expect(granted).toMatchObject({ admitted: true, admissionId: 'idem-1', reservedMs: '3600000', replay: false });
      expect(admissions.admit).toHaveBeenCalledTimes(1);
    });

    it('replays an admission already decided first, even after the caller gave up', async () => {
      admissions.recorded.mockResolvedValue({
        fingerprint: 'key-1|sandbox.create|3600000|',
        state: 'held',
        reservedMs: 3_600_000n,
        expiresAtMs: Date.now() + 300_000,
      });
      const granted = await sut.admit(create(), Date.now() - 1);
      expect(granted).toMatchObject({ admitted: true, replay: true, reservedMs: '3600000' });
      expect(admissions.admit).not.toHaveBeenCalled();
    });

    it('then the deadline: past it, nothing new is held (503)', async () => {
      expect(await codeOf(sut.admit(create(), Date.now() - 1))).toBe('DEPENDENCY_UNAVAILABLE');
      expect(admissions.admit).not.toHaveBeenCalled();
    });

    it('does not replay a released admission past the deadline', async () => {
      admissions.recorded.mockResolvedValue({
        fingerprint: 'key-1|sandbox.create|3600000|',
        state: 'released',
        reservedMs: 0n,
        expiresAtMs: 0,
      });
      expect(await codeOf(sut.admit(create(), Date.now() - 1))).toBe('DEPENDENCY_UNAVAILABLE');
    });

    it('then Redis: a metered action fails closed when Redis cannot answer', async () => {
      admissions.admit.mockRejectedValue(new Error('Connection is closed.'));
      expect(await codeOf(sut.admit(create()))).toBe('DEPENDENCY_UNAVAILABLE');
    });

    it('fails open for an action that is not metered', async () => {
      admissions.admit.mockRejectedValue(new Error('Connection is closed.'));
      const granted = await sut.admit({ ...create(), action: 'sandbox.list', params: {} });
      expect(granted).toMatchObject({ admitted: true, degraded: expect.stringContaining('failed open') });
    });

    it('answers a denial by name, with the figures of the priced request', async () => {
      admissions.admit.mockResolvedValue({ outcome: 'INSUFFICIENT_SANDBOX_HOURS', availableMs: 1_800_000n });
      await expect(sut.admit(create())).rejects.toThrow(
        'sandbox.create needs 1 sandbox hours reserved; 0.5 are available.',
      );
    });
  });

  describe('a cache miss (no snapshot, or one past its valid_until)', () => {
    it("loads the balance at Redis's time, applies it as of then, and decides again", async () => {
      admissions.admit.mockResolvedValueOnce({ outcome: 'MISS' });
      await expect(sut.admit(create())).resolves.toMatchObject({ admitted: true });
      expect(snapshots.load).toHaveBeenCalledWith(ORG, REDIS_NOW);
      expect(balances.apply).toHaveBeenCalledWith(ORG, { version: 1n }, [], REDIS_NOW);
      expect(admissions.admit).toHaveBeenCalledTimes(2);
    });

    it('loads once more when the loaded snapshot is past a boundary already, then gives up (503)', async () => {
      admissions.admit.mockResolvedValueOnce({ outcome: 'MISS' }).mockResolvedValueOnce({ outcome: 'MISS' });
      await expect(sut.admit(create())).resolves.toMatchObject({ admitted: true });
      expect(snapshots.load).toHaveBeenCalledTimes(2);
      admissions.admit.mockResolvedValue({ outcome: 'MISS' });
      expect(await codeOf(sut.admit(create('idem-2')))).toBe('DEPENDENCY_UNAVAILABLE');
    });
  });

  describe('admit sandbox.extend', () => {
    const extend = (shape = 'micro'): AdmissionRequest => ({
      orgId: ORG,
      keyId: 'key-1',
      action: 'sandbox.extend',
      resource: { type: 'sandbox', id: 'SBX-1' },
      params: { shape, extendSeconds: 3600 },
      admissionId: 'idem-2',
    });

    it("reserves at the running sandbox's price, whatever shape the caller states", async () => {
      sandboxes.running.mockResolvedValue({ id: 'SBX-1', shape: 'gpu', pricePerHour: '12.5' });
      await sut.admit(extend('micro'));
      expect(sandboxes.running).toHaveBeenCalledWith(ORG, 'SBX-1');
      expect(admissions.admit).toHaveBeenCalledWith(
        expect.objectContaining({ kind: 'extend', reserveMs: 45_000_000n }),
      );
    });

    it('refuses a sandbox that is not running (404) and one not named (400), holding nothing', async () => {
      expect(await codeOf(sut.admit(extend()))).toBe('NOT_FOUND');
      expect(await codeOf(sut.admit({ ...extend(), resource: null }))).toBe('INVALID_REQUEST');
      expect(admissions.admit).not.toHaveBeenCalled();
    });
  });

  describe('release', () => {
    it('drops the hold, then voids the admission for metering', async () => {
      await expect(sut.release(ORG, 'idem-1')).resolves.toEqual({
        admissionId: 'idem-1',
        orgId: ORG,
        releasedMs: '3600000',
        releasedAgentMc: '0',
      });
      expect(voids.publish).toHaveBeenCalledWith(ORG, 'idem-1', 'released');
    });

    it('answers 503 (retry) when Kafka does not take the void', async () => {
      voids.publish.mockRejectedValue(new Error('no ack'));
      expect(await codeOf(sut.release(ORG, 'idem-1'))).toBe('DEPENDENCY_UNAVAILABLE');
    });
  });
});
