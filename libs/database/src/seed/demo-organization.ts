import { generateApiKey, hashKeySecret } from '@tally/contracts';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { ApiKeyEntity } from '../entities/api-key.entity';
import { OrganizationEntity } from '../entities/organization.entity';
import { PackageEntity } from '../entities/package.entity';
import { grantPackage } from '../repositories/package.repository';

export interface DemoOrganization {
  orgId: string;
  userId: string;
  keyId: string;
  /** Plaintext API key: printed once for the demo, never stored. */
  apiKey: string;
  packageId: string;
}

export interface DemoOptions {
  keyPrefix: string;
  pepper: string;
  name?: string;
  sandboxMs?: bigint;
  agentMc?: bigint;
}

const DEMO_NAME = 'Demo organization';

/**
 * The demo organization of a development stack, seeded once: when one exists (an earlier
 * `npm start`), a new API key for its owner instead of a second organization (the plaintext of the
 * first key was shown once and is stored nowhere).
 */
export async function ensureDemoOrganization(
  dataSource: DataSource,
  options: DemoOptions,
): Promise<DemoOrganization & { created: boolean }> {
  const existing = await dataSource
    .getRepository(OrganizationEntity)
    .findOne({ where: { name: options.name ?? DEMO_NAME }, order: { createdAt: 'ASC' } });
  if (!existing) return { ...(await seedDemoOrganization(dataSource, options)), created: true };
  const firstKey = await dataSource
    .getRepository(ApiKeyEntity)
    .findOne({ where: { orgId: existing.id }, order: { createdAt: 'ASC' } });
  const userId = firstKey?.createdBy ?? `USR-${ulid()}`;
  const key = await insertDemoKey(dataSource, existing.id, userId, options);
  const pkg = await dataSource
    .getRepository(PackageEntity)
    .findOne({ where: { orgId: existing.id, source: 'demo-seed' } });
  return {
    orgId: existing.id,
    userId,
    keyId: key.lookupId,
    apiKey: key.plaintext,
    packageId: pkg?.id ?? '',
    created: false,
  };
}

async function insertDemoKey(dataSource: DataSource, orgId: string, userId: string, options: DemoOptions) {
  const key = generateApiKey(options.keyPrefix);
  await dataSource.getRepository(ApiKeyEntity).insert({
    id: key.lookupId,
    orgId,
    createdBy: userId,
    name: 'demo key',
    displayPrefix: key.displayPrefix,
    secretHash: hashKeySecret(options.pepper, key.secret),
  });
  return key;
}

/** An organization with one package (10 sandbox hours, 100 agent credits) and one API key. */
export async function seedDemoOrganization(dataSource: DataSource, options: DemoOptions): Promise<DemoOrganization> {
  const orgId = `ORG-${ulid()}`;
  const userId = `USR-${ulid()}`;
  await dataSource.getRepository(OrganizationEntity).insert({ id: orgId, name: options.name ?? DEMO_NAME });
  const pkg = await grantPackage(dataSource, {
    orgId,
    sandboxMs: options.sandboxMs ?? 36_000_000n,
    agentMc: options.agentMc ?? 100_000n,
    source: 'demo-seed',
    externalId: `demo-${orgId}`,
  });
  const key = await insertDemoKey(dataSource, orgId, userId, options);
  return { orgId, userId, keyId: key.lookupId, apiKey: key.plaintext, packageId: pkg.id };
}
