import { Logger } from '@nestjs/common';
import { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { BatchConsumer, BatchHandler, Decoded, InboundMessage } from './batch-consumer';
import { EventPublisher } from './event-publisher';

/** A deterministic failure, as a handler's classifier recognises it (e.g. PostgreSQL class 22). */
class DataError extends Error {}

const TOPIC = 't.usage';
const message = (offset: number, value = `m${offset}`): KafkaMessage =>
  ({ offset: String(offset), key: Buffer.from('ORG'), value: Buffer.from(value), headers: {} }) as KafkaMessage;

/** Everything the consumer does, in order: handler calls, dead letters, commits. */
let log: string[];

function fakes(handle: (offsets: string[]) => Promise<void>, decode?: (m: KafkaMessage) => Decoded<string>) {
  let eachBatch!: (payload: EachBatchPayload) => Promise<void>;
  const consumer = {
    events: { CRASH: 'crash' },
    on: jest.fn(),
    connect: jest.fn(),
    subscribe: jest.fn(),
    run: jest.fn(async (config: { eachBatch: typeof eachBatch }) => void (eachBatch = config.eachBatch)),
    commitOffsets: jest.fn(async (offsets: { offset: string }[]) => void log.push(`commit ${offsets[0].offset}`)),
    stop: jest.fn(),
    disconnect: jest.fn(),
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const publisher = {
    connect: jest.fn(),
    publish: jest.fn(async (...messages: { headers: Record<string, string> }[]) => {
      for (const m of messages) log.push(`dlq ${m.headers['x-dlq-offset']} ${m.headers['x-dlq-reason']}`);
    }),
  } as unknown as EventPublisher;
  const handler: BatchHandler<string> = {
    decode: decode ?? ((m) => ({ ok: true, value: m.value!.toString() })),
    handle: async (messages: InboundMessage<string>[]) => {
      const offsets = messages.map((m) => m.offset);
      log.push(`handle ${offsets.join(',')}`);
      await handle(offsets);
    },
    classify: (error) => (error instanceof DataError ? { reason: error.message, reasonClass: 'data' } : null),
  };
  const sut = new BatchConsumer(kafka, publisher, handler, {
    groupId: 'g',
    topics: [TOPIC],
    onFatal: jest.fn(),
    maxBackoffMs: 1,
  });
  const consume = async (messages: KafkaMessage[], overrides: Partial<EachBatchPayload> = {}) => {
    await sut.start();
    await eachBatch({
      batch: { topic: TOPIC, partition: 0, messages },
      resolveOffset: jest.fn(),
      heartbeat: jest.fn(async () => undefined),
      isRunning: () => true,
      isStale: () => false,
      ...overrides,
    } as unknown as EachBatchPayload);
  };
  return { sut, consume, consumer };
}

describe(BatchConsumer.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => (log = []));

  describe('consumeBatch', () => {
    it('commits the next offset only after the handler made the batch durable', async () => {
      const { consume } = fakes(async () => void log.push('durable'));
      await consume([message(5), message(6)]);
      expect(log).toEqual(['handle 5,6', 'durable', 'commit 7']);
    });

    it('dead-letters what the decoder refuses before committing, and hands the rest to the handler', async () => {
      const decode = (m: KafkaMessage): Decoded<string> =>
        m.offset === '1' ? { ok: false, reason: 'not JSON', reasonClass: 'unparseable' } : { ok: true, value: 'x' };
      const { consume } = fakes(async () => undefined, decode);
      await consume([message(0), message(1), message(2)]);
      expect(log).toEqual(['handle 0,2', 'dlq 1 not JSON', 'commit 3']);
    });

    it('retries a transient failure as it is: nothing dead-lettered, nothing committed until it succeeds', async () => {
      let failures = 2;
      const { consume } = fakes(async () => {
        if (failures-- > 0) throw new Error('connection terminated');
      });
      await consume([message(0), message(1)]);
      expect(log).toEqual(['handle 0,1', 'handle 0,1', 'handle 0,1', 'commit 2']);
    });

    it('splits a deterministic failure down to its message, dead-letters it with the reason, posts the rest', async () => {
      const { consume } = fakes(async (offsets) => {
        if (offsets.includes('2')) throw new DataError('PostgreSQL 22021: invalid byte sequence');
      });
      await consume([message(0), message(1), message(2), message(3)]);
      expect(log).toEqual([
        'handle 0,1,2,3',
        'handle 0,1',
        'handle 2,3',
        'handle 2',
        'handle 3',
        'dlq 2 PostgreSQL 22021: invalid byte sequence',
        'commit 4',
      ]);
    });

    it('a transient failure while splitting retries the batch: the poison is not dead-lettered on its account', async () => {
      let transient = true;
      const { consume } = fakes(async (offsets) => {
        if (offsets.length === 1 && offsets[0] === '1' && transient) {
          transient = false;
          throw new Error('deadlock detected');
        }
        if (offsets.includes('0')) throw new DataError('22003 numeric out of range');
      });
      await consume([message(0), message(1)]);
      expect(log).toEqual([
        'handle 0,1',
        'handle 0',
        'handle 1', // transient: the whole batch again
        'handle 0,1',
        'handle 0',
        'handle 1',
        'dlq 0 22003 numeric out of range',
        'commit 2',
      ]);
    });

    it('gives the partition back uncommitted when a rebalance takes it during the backoff', async () => {
      const { consume } = fakes(async () => {
        throw new Error('redis down');
      });
      const heartbeat = jest.fn(async () => {
        throw new Error('rebalance in progress');
      });
      await consume([message(0)], { heartbeat } as Partial<EachBatchPayload>);
      expect(log).toEqual(['handle 0']);
    });
  });
});
