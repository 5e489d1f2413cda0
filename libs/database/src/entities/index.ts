import { AdmissionFateEntity } from './admission-fate.entity';
import { BalanceRefreshEntity } from './balance-refresh.entity';
import { ApiKeyAuditEntity } from './api-key-audit.entity';
import { ApiKeyEntity } from './api-key.entity';
import { LedgerEntryEntity } from './ledger-entry.entity';
import { OrganizationEntity } from './organization.entity';
import { PackageEntity } from './package.entity';
import { PendingRevocationEntity } from './pending-revocation.entity';
import { ProcessedEventEntity } from './processed-event.entity';
import { SandboxReportSequenceEntity } from './sandbox-report-sequence.entity';
import { HoldEntity } from './hold.entity';
import { OutboxEntity } from './outbox.entity';
import { PlanEntity } from './plan.entity';
import { ShapeEntity } from './shape.entity';
import { UsageRollupEntity } from './usage-rollup.entity';
import { SandboxUsageRollupEntity } from './sandbox-usage-rollup.entity';
import { AlertStateEntity } from './alert-state.entity';
import { BalanceAlertEntity } from './balance-alert.entity';
import { OrgResourceCountEntity } from './org-resource-count.entity';
import { WebhookAttemptEntity } from './webhook-attempt.entity';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookEndpointEntity } from './webhook-endpoint.entity';

export * from './admission-fate.entity';
export * from './balance-refresh.entity';
export * from './api-key-audit.entity';
export * from './api-key.entity';
export * from './bigint.transformer';
export * from './ledger-entry.entity';
export * from './organization.entity';
export * from './package.entity';
export * from './pending-revocation.entity';
export * from './processed-event.entity';
export * from './sandbox-report-sequence.entity';
export * from './hold.entity';
export * from './outbox.entity';
export * from './plan.entity';
export * from './shape.entity';
export * from './usage-rollup.entity';
export * from './sandbox-usage-rollup.entity';
export * from './alert-state.entity';
export * from './balance-alert.entity';
export * from './org-resource-count.entity';
export * from './webhook-attempt.entity';
export * from './webhook-delivery.entity';
export * from './webhook-endpoint.entity';

/** Registered explicitly: bundlers break TypeORM's glob discovery. */
export const ENTITIES = [
  OrganizationEntity,
  ApiKeyEntity,
  PackageEntity,
  LedgerEntryEntity,
  ProcessedEventEntity,
  SandboxReportSequenceEntity,
  ApiKeyAuditEntity,
  ShapeEntity,
  PlanEntity,
  HoldEntity,
  UsageRollupEntity,
  SandboxUsageRollupEntity,
  OutboxEntity,
  AlertStateEntity,
  BalanceAlertEntity,
  WebhookEndpointEntity,
  WebhookDeliveryEntity,
  WebhookAttemptEntity,
  OrgResourceCountEntity,
  AdmissionFateEntity,
  PendingRevocationEntity,
  BalanceRefreshEntity,
];
