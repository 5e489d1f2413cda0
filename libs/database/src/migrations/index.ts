import { Init1795710006556 } from './1795710006556-Init';
import { ApiKeyAudit1795710854483 } from './1795710854483-ApiKeyAudit';
import { Metering1795710867662 } from './1795710867662-Metering';
import { OpsAlerts1795711787412 } from './1795711787412-OpsAlerts';
import { SandboxUsageRollups1795721252502 } from './1795721252502-SandboxUsageRollups';
import { UsageRollupsCoveringKey1795722297222 } from './1795722297222-UsageRollupsCoveringKey';
import { AdmissionFates1795953300000 } from './1795953300000-AdmissionFates';
import { LedgerEventKeyByOrg1795955493335 } from './1795955493335-LedgerEventKeyByOrg';
import { SandboxReportSequences1795957000000 } from './1795957000000-SandboxReportSequences';
import { PendingRevocations1795964394590 } from './1795964394590-PendingRevocations';
import { TimeAwareBalances1795964500000 } from './1795964500000-TimeAwareBalances';
import { OrganizationLifecycle1795970000000 } from './1795970000000-OrganizationLifecycle';
import { OrgAlertThresholds1795971000000 } from './1795971000000-OrgAlertThresholds';
import { AgentOverdraft1795972000000 } from './1795972000000-AgentOverdraft';

/** In order of application; registered explicitly (bundlers break TypeORM globs). */
export const MIGRATIONS = [
  Init1795710006556,
  Metering1795710867662,
  ApiKeyAudit1795710854483,
  OpsAlerts1795711787412,
  SandboxUsageRollups1795721252502,
  UsageRollupsCoveringKey1795722297222,
  AdmissionFates1795953300000,
  LedgerEventKeyByOrg1795955493335,
  SandboxReportSequences1795957000000,
  PendingRevocations1795964394590,
  TimeAwareBalances1795964500000,
  OrganizationLifecycle1795970000000,
  OrgAlertThresholds1795971000000,
  AgentOverdraft1795972000000,
];
