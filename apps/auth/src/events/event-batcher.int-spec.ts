import { EventPublisher } from '@tally/kafka';
import { expectEventually } from '@tally/testing';
import { Kafka, logLevel } from 'kafkajs';
import { Registry } from 'prom-client';
import { AuthConfig } from '../config/auth.config';
import { EventBatcher, Unacknowledged } from './event-batcher.service';

/**
 * A real kafkajs producer pointed at a port where no broker listens: the way Kafka looks from
 * auth when it is down. Metered actions must fail closed; other events are counted as unsent.
 */
describe('EventBatcher with Kafka unreachable', () => {
  jest.setTimeout(30_000);
  const kafka = new Kafka({
    clientId: 'auth-batcher-test',
    brokers: ['127.0.0.1:1'],
    connectionTimeout: 200,
    retry: { retries: 1, initialRetryTime: 50 },
    logLevel: logLevel.NOTHING,
  });
  const registry = new Registry();
  const batcher = new EventBatcher(
    new EventPublisher(kafka),
    kafka,
    { EVENT_BATCH_MS: 10, EVENT_QUEUE_MAX: 1_000 } as AuthConfig,
    registry,
  );
  const event = { topic: 'auth.action.verified.v1', key: 'ORG-X', value: { hello: 'world' } };

  beforeAll(() => batcher.onModuleInit());
  afterAll(() => batcher.onApplicationShutdown());

  it('rejects a metered event within its timeout (the caller answers 503)', async () => {
    const started = Date.now();
    await expect(batcher.sendAndWait(event, 500)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('drops a queued metered event whose caller gave up before it is sent (it cannot have been written)', async () => {
    // The first is in flight (the producer cannot connect); the second waits behind it and times out there.
    const inFlight = batcher.sendAndWait(event, 2_000).catch((error: unknown) => error);
    const queued = await batcher.sendAndWait({ ...event, key: 'ORG-Y' }, 5).catch((error: unknown) => error);
    expect(queued).toBeInstanceOf(Unacknowledged);
    expect((queued as Unacknowledged).mayHaveBeenWritten).toBe(false);
    expect(await inFlight).toMatchObject({ mayHaveBeenWritten: true });
  });

  it('counts events nobody waits for as unsent, without throwing', async () => {
    for (let i = 0; i < 3; i++) batcher.send({ ...event, topic: 'auth.action.denied.v1' });
    await expectEventually(async () => {
      const metric = await registry.getSingleMetricAsString('auth_events_unsent_total');
      expect(metric).toContain('auth_events_unsent_total{topic="auth.action.denied.v1"} 3');
    }, 20_000);
  });
});
