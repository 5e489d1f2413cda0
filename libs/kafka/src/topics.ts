import { Kafka } from 'kafkajs';

/**
 * Creates the topics that do not exist yet (idempotent; safe from several instances), then waits
 * until each has a leader. It never lists the cluster's topics: a metadata request for every
 * topic of a large cluster is slow and, on a small broker heap, dangerous.
 */
export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Resolves false when they all exist; per topic, "already exists" is not an error.
    await admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const { topics: described } = await admin.fetchTopicMetadata({ topics });
        if (described.every((topic) => topic.partitions.every((partition) => partition.leader >= 0))) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topics without a leader after 30 s: ${topics.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
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
