import fc from 'fast-check';
import { Partitioners, PartitionerArgs } from 'kafkajs';
import { KeyPartitioner, murmur2 } from './key-partitioner';

const metadata = (count: number) =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

describe('KeyPartitioner', () => {
  it('puts every key on the partition kafkajs (and the Java client) would', () => {
    const ours = KeyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 64 }),
          fc.string({ unit: 'grapheme', maxLength: 16 }),
          fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
          fc.constantFrom('ORG-01JQ8Z5V4W4YB3M9X7KTR2NDAF', 'a', 'ab', 'abc', 'abcd', ''),
        ),
        fc.integer({ min: 1, max: 64 }),
        (key, partitions) => {
          const args: PartitionerArgs = {
            topic: 't',
            partitionMetadata: metadata(partitions),
            message: { key, value: 'v' },
          };
          expect(ours(args)).toBe(theirs(args));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("matches the Java client's murmur2 test vectors", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(key)).toBe(hash);
  });

  it('keeps an explicit partition', () => {
    const args: PartitionerArgs = {
      topic: 't',
      partitionMetadata: metadata(12),
      message: { key: 'k', value: 'v', partition: 7 },
    };
    expect(KeyPartitioner()(args)).toBe(7);
  });
});
