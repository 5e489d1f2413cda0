import { Kafka } from 'kafkajs';
import { KafkaStartup } from './kafka-startup';

describe(KafkaStartup.name, () => {
  const kafka = {} as Kafka;

  it('retries each step until it succeeds, in order, and reports kafka down naming the step meanwhile', async () => {
    const sut = new KafkaStartup({ initialBackoffMs: 1, maxBackoffMs: 5 });
    const calls: string[] = [];
    let topicFailures = 3;
    let release!: () => void;
    const consumerGate = new Promise<void>((resolve) => (release = resolve));
    const done = sut.start([
      {
        name: 'topics',
        run: async () => {
          calls.push('topics');
          if (topicFailures-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
        },
      },
      {
        name: 'consumer',
        run: async () => {
          calls.push('consumer');
          await consumerGate;
        },
      },
    ]);
    const health = sut.health(kafka, async () => 'cluster');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(health.check()).rejects.toThrow(/^starting: waiting \d+ s for the broker \(consumer, attempt 5\)/);
    expect(sut.ready).toBe(false);

    release();
    expect(await done).toBe(true);
    expect(calls).toEqual(['topics', 'topics', 'topics', 'topics', 'consumer']);
    expect(health.name).toBe('kafka');
    await expect(health.check()).resolves.toBe('cluster');
  });

  it('stops retrying when the app shuts down', async () => {
    const sut = new KafkaStartup({ initialBackoffMs: 10_000, maxBackoffMs: 10_000 });
    const done = sut.start([{ name: 'topics', run: () => Promise.reject(new Error('down')) }]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    sut.onApplicationShutdown();
    expect(await done).toBe(false);
    expect(sut.ready).toBe(false);
  });
});
