import { createTestContext, expectEventually, PrivateKafka, startPrivateKafka, TestContext } from '@tally/testing';
import { brokenRules, describeProbes, meteredActions, probeAll, readyAgain, Stack, startStack } from './outage-harness';

/**
 * Issue 16, Kafka: the three apps on a Kafka broker of this test's own, stopped for a while (its
 * data kept). Meanwhile every endpoint of every app answers within 2 s, 2xx where Kafka is not
 * needed, or 503 DEPENDENCY_UNAVAILABLE naming Kafka (a metered verify fails closed); every
 * agent.run acknowledged is debited exactly once, what metering wrote meanwhile is relayed, and
 * every app is ready again within 10 s of the broker, same process.
 */
describe('outage: Kafka', () => {
  // A private broker starts in 20-60 s on a loaded machine, and again after the outage.
  jest.setTimeout(300_000);
  let ctx: TestContext;
  let kafka: PrivateKafka;
  let stack: Stack;

  beforeAll(async () => {
    ctx = await createTestContext();
    kafka = await startPrivateKafka();
    stack = await startStack(ctx, { KAFKA_BROKERS: kafka.brokers });
  });

  afterAll(async () => {
    await stack?.close();
    await kafka?.dispose();
    await ctx?.dispose();
  });

  it('answers every endpoint within 2 s with 2xx or 503 naming kafka while it is down, and loses nothing', async () => {
    const metered = meteredActions(stack);
    await expectEventually(async () => expect((await metered.run()).status).toBe(200), 20_000);
    await expectEventually(
      async () => expect((await metered.debited()).mc).toBe(`${metered.acknowledged * 1_000}`),
      30_000,
    );

    await kafka.stop();
    const probes = await probeAll(stack);
    console.log(describeProbes('Kafka down', probes));
    expect(brokenRules(probes, 'kafka')).toEqual([]);
    metered.count(probes);
    const during = await metered.run();
    expect(during).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_UNAVAILABLE' } });

    await kafka.start();
    const readyMs = await readyAgain(stack, 10_000);
    console.log(`Kafka back: every app ready after ${readyMs.toFixed(0)} ms`);
    await expectEventually(async () => expect((await metered.run()).status).toBe(200), 10_000, 250);
    await expectEventually(
      async () => expect((await metered.debited()).mc).toBe(`${metered.acknowledged * 1_000}`),
      60_000,
      250,
    );
    expect((await metered.debited()).entries).toBe(metered.acknowledged);
    // What metering wrote while Kafka was away (the package granted, its ledger events) is relayed.
    await expectEventually(
      async () => expect(await stack.db.query('SELECT count(*)::int AS n FROM outbox')).toEqual([{ n: 0 }]),
      30_000,
      250,
    );
  });
});
