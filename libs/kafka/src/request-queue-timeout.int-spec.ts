import { createTestContext, TestContext } from '@tally/testing';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createKafka } from './kafka-client';
import { ensureTopics } from './topics';

/**
 * A process that produces through libs/kafka prints no TimeoutNegativeWarning on Node 24 (kafkajs'
 * idle request queue scheduled its next check at a negative delay). Run as a real process, with
 * warnings on, as the apps and the simulator run.
 */
describe('kafkajs request queue scheduling', () => {
  jest.setTimeout(60_000);
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.dispose());

  it('produces, consumes nothing, disconnects: stderr has no TimeoutNegativeWarning', async () => {
    const topic = `${ctx.topicPrefix}warning-probe`;
    await ensureTopics(createKafka('warning-probe-admin', [ctx.kafkaBrokers]), [topic], 1);
    const script = `
      const { createKafka } = require(${JSON.stringify(join(process.cwd(), 'dist/libs/kafka/src'))});
      (async () => {
        const producer = createKafka('warning-probe', [${JSON.stringify(ctx.kafkaBrokers)}]).producer();
        await producer.connect();
        await producer.send({ topic: ${JSON.stringify(topic)}, messages: [{ key: 'k', value: 'v' }] });
        await new Promise((resolve) => setTimeout(resolve, 200));
        await producer.disconnect();
        console.log('sent');
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const run = spawnSync(join(process.cwd(), 'node_modules/.bin/node'), ['-e', script], {
      env: { PATH: process.env.PATH ?? '', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      encoding: 'utf8',
      timeout: 45_000,
    });
    expect(run.stdout).toContain('sent');
    expect(run.stderr).not.toContain('TimeoutNegativeWarning');
    expect(run.stderr).not.toMatch(/\(node:\d+\) \w*Warning/);
  });
});
