import fc from 'fast-check';
import { packPartitionBatches, PartitionBatchRef } from './batch-packing';

const batch = (topic: string, partition: number, size: number): PartitionBatchRef => ({ topic, partition, size });

describe('packPartitionBatches', () => {
  it('puts small batches of one fetch into one call', () => {
    const batches = [batch('a', 0, 5), batch('b', 0, 3), batch('a', 1, 4), batch('c', 2, 1)];
    expect(packPartitionBatches(batches, 1_000)).toEqual([batches]);
  });

  it('keeps the batches of one partition number together and cuts calls at the target', () => {
    const calls = packPartitionBatches(
      [batch('a', 1, 600), batch('a', 0, 300), batch('b', 0, 300), batch('b', 1, 100), batch('a', 2, 50)],
      500,
    );
    expect(calls.map((call) => call.map((b) => `${b.topic}${b.partition}`))).toEqual([
      ['a0', 'b0'],
      ['a1', 'b1'],
      ['a2'],
    ]);
  });

  it('never loses, repeats or splits a batch, and never mixes a partition number across calls', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ topic: fc.constantFrom('a', 'b', 'c'), partition: fc.nat(11), size: fc.nat(2_000) }), {
          maxLength: 36,
        }),
        fc.integer({ min: 1, max: 5_000 }),
        (batches, target) => {
          const calls = packPartitionBatches(batches, target);
          expect(calls.flat()).toHaveLength(batches.length);
          expect(new Set(calls.flat())).toEqual(new Set(batches));
          const callOf = new Map<number, number>();
          calls.forEach((call, index) => {
            expect(call.length).toBeGreaterThan(0);
            for (const b of call) {
              expect(callOf.get(b.partition) ?? index).toBe(index);
              callOf.set(b.partition, index);
            }
          });
          // Every call but the last reached the target (no call is cut smaller than needed).
          for (const call of calls.slice(0, -1)) {
            expect(call.reduce((sum, b) => sum + b.size, 0)).toBeGreaterThanOrEqual(target);
          }
        },
      ),
    );
  });
});
