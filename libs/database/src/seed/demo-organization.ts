import { generateApiKey, hashKeySecret } from '@tally/contracts';
import { DataSource } from 'typeorm';
import { ulid } from 'ulid';
import { ApiKeyEntity } from '../entities/api-key.entity';
import { OrganizationEntity } from '../entities/organization.entity';
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

/** An organization with one package (10 sandbox hours, 100 agent credits) and one API key. */
export async function seedDemoOrganization(dataSource: DataSource, options: DemoOptions): Promise<DemoOrganization> {
  const orgId = `ORG-${ulid()}`;
  const userId = `USR-${ulid()}`;
  await dataSource.getRepository(OrganizationEntity).insert({ id: orgId, name: options.name ?? 'Demo organization' });
  const pkg = await grantPackage(dataSource, {
    orgId,
    sandboxMs: options.sandboxMs ?? 36_000_000n,
    agentMc: options.agentMc ?? 100_000n,
    source: 'demo-seed',
    externalId: `demo-${orgId}`,
  });
  const key = generateApiKey(options.keyPrefix);
  await dataSource.getRepository(ApiKeyEntity).insert({
    id: key.lookupId,
    orgId,
    createdBy: userId,
    name: 'demo key',
    displayPrefix: key.displayPrefix,
    secretHash: hashKeySecret(options.pepper, key.secret),
  });
  return { orgId, userId, keyId: key.lookupId, apiKey: key.plaintext, packageId: pkg.id };
}
