import { LookupGate } from './lookup-gate';

describe(LookupGate.name, () => {
  const deferred = () => {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { done, release };
  };

  it('runs at most maxConcurrent at once, queues maxQueued, sheds the rest, and serves proven callers first', async () => {
    const sut = new LookupGate(2, 2);
    const order: string[] = [];
    const blockers = [deferred(), deferred()];
    const running = blockers.map((b, i) => sut.run(false, async () => (order.push(`r${i}`), b.done)));
    const queuedUnproven = sut.run(false, async () => void order.push('unproven'));
    const queuedProven = sut.run(true, async () => void order.push('proven'));
    expect(await sut.run(false, async () => 'never')).toBeUndefined();
    expect(sut.inFlight).toBe(2);
    blockers.forEach((b) => b.release());
    await Promise.all([...running, queuedUnproven, queuedProven]);
    expect(order).toEqual(['r0', 'r1', 'proven', 'unproven']);
    expect(sut.inFlight).toBe(0);
  });
});
