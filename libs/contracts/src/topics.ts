/**
 * Kafka topics. The schema major version is part of the name: a breaking change is a new topic,
 * never a silent change to an existing one.
 */
export const Topics = {
  actionVerified: 'auth.action.verified.v1',
  actionDenied: 'auth.action.denied.v1',
  usageSandbox: 'usage.sandbox.v1',
  usageAgent: 'usage.agent.v1',
  ledgerPosted: 'metering.ledger.v1',
  alerts: 'metering.alerts.v1',
  admissionVoided: 'auth.admission.voided.v1',
  /** What the platform asks of an organization (create, rename, plan, suspend, resume): metering applies it. */
  platformOrg: 'platform.org.v1',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

export const deadLetterTopic = (topic: string): string => `${topic}.dlq`;

/**
 * Tests run many isolated copies of the system against one broker, so every topic a service
 * touches goes through this prefix (empty in production).
 */
export const topicName = (prefix: string, topic: TopicName | string): string => `${prefix}${topic}`;

/** Org-keyed topics are partitioned so one metering instance owns an org at a time. */
export const DEFAULT_PARTITIONS = 12;
