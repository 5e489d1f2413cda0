/** One partition's batch as the packer sees it: where it comes from and how many messages it holds. */
export interface PartitionBatchRef {
  topic: string;
  partition: number;
  size: number;
}

/**
 * Packs the partition batches of one fetch into handler calls of about `target` messages each.
 * Batches of the same partition number stay together: Tally's topics are keyed by organization
 * with the same partition count and partitioner, so partition N of every topic carries the same
 * organizations, and two calls built from different partition numbers lock disjoint
 * organizations (they run side by side instead of queueing on each other's row locks). A call
 * may exceed `target` by the last partition number added to it; a partition's batch is never split.
 */
export function packPartitionBatches<T extends PartitionBatchRef>(batches: T[], target: number): T[][] {
  const byPartition = new Map<number, T[]>();
  for (const batch of batches) {
    const group = byPartition.get(batch.partition);
    if (group) group.push(batch);
    else byPartition.set(batch.partition, [batch]);
  }
  const calls: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
    const group = byPartition.get(partition)!;
    current.push(...group);
    size += group.reduce((sum, batch) => sum + batch.size, 0);
    if (size >= target) {
      calls.push(current);
      current = [];
      size = 0;
    }
  }
  if (current.length > 0) calls.push(current);
  return calls;
}
