import { Logger } from '@nestjs/common';
import { Admin, ITopicMetadata, Kafka } from 'kafkajs';

const logger = new Logger('KafkaTopics');

/** How the topics Tally creates are replicated (KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS). */
export interface TopicReplication {
  replicationFactor: number;
  minInsyncReplicas: number;
}

export const SINGLE_NODE: TopicReplication = { replicationFactor: 1, minInsyncReplicas: 1 };

/**
 * Creates the topics that do not exist yet (idempotent; safe from several instances), logs what
 * it created and with which replication, then waits until each has a leader. It never lists the
 * cluster's topics: a metadata request for every topic of a large cluster is slow and, on a small
 * broker heap, dangerous.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: string[],
  numPartitions: number,
  replication: TopicReplication = SINGLE_NODE,
): Promise<void> {
  if (replication.minInsyncReplicas > replication.replicationFactor) {
    throw new Error(
      `min.insync.replicas ${replication.minInsyncReplicas} exceeds the replication factor ${replication.replicationFactor}`,
    );
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await createMissing(admin, topics, numPartitions, replication);
    logCreated(topics, created, numPartitions, replication);
    warnFewerReplicas(await waitForLeaders(admin, topics), replication);
  } finally {
    await admin.disconnect();
  }
}

/** One request per topic: each resolves true when it created the topic, false when it existed. */
function createMissing(
  admin: Admin,
  topics: string[],
  numPartitions: number,
  replication: TopicReplication,
): Promise<boolean[]> {
  return Promise.all(
    topics.map((topic) =>
      admin.createTopics({
        waitForLeaders: false,
        topics: [
          {
            topic,
            numPartitions,
            replicationFactor: replication.replicationFactor,
            configEntries: [{ name: 'min.insync.replicas', value: String(replication.minInsyncReplicas) }],
          },
        ],
      }),
    ),
  );
}

/** Polls the topics' metadata until every partition has a leader (30 s at most); returns it. */
async function waitForLeaders(admin: Admin, topics: string[]): Promise<ITopicMetadata[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { topics: described } = await admin.fetchTopicMetadata({ topics });
      if (described.every((topic) => topic.partitions.every((partition) => partition.leader >= 0))) return described;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics without a leader after 30 s: ${topics.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes every topic whose name starts with `prefix` (test isolation; never used with ''). */
export async function deleteTopicsWithPrefix(kafka: Kafka, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete topics without a prefix');
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
    return mine.length;
  } finally {
    await admin.disconnect();
  }
}

function logCreated(topics: string[], created: boolean[], numPartitions: number, replication: TopicReplication): void {
  const made = topics.filter((_, i) => created[i]);
  logger.log({
    msg: made.length ? `created ${made.length} topic(s)` : 'topics already exist',
    created: made,
    existing: topics.filter((_, i) => !created[i]),
    partitions: numPartitions,
    replicationFactor: replication.replicationFactor,
    minInsyncReplicas: replication.minInsyncReplicas,
  });
}

/** A topic that existed before with fewer replicas than configured keeps them: say so at start. */
function warnFewerReplicas(
  described: { name: string; partitions: { replicas: number[] }[] }[],
  replication: TopicReplication,
): void {
  const fewer = described.filter((topic) =>
    topic.partitions.some((partition) => partition.replicas.length < replication.replicationFactor),
  );
  if (fewer.length) {
    logger.warn({
      msg: 'existing topics have fewer replicas than KAFKA_REPLICATION_FACTOR (Tally does not reassign them)',
      topics: fewer.map((topic) => topic.name),
      replicationFactor: replication.replicationFactor,
    });
  }
}
