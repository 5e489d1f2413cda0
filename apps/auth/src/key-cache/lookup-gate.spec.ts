import { LookupGate } from './lookup-gate';

describe(LookupGate.name, () => {
  const deferred = () => {
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { done, release };
  };

  describe('run', () => {
    it('runs at most maxConcurrent at once, queues maxQueued, sheds the rest, and serves proven callers first', async () => {
      const sut = new LookupGate(2, 2);
      const order: string[] = [];
      const blockers = [deferred(), deferred()];
      const running = blockers.map((b, i) => sut.run(false, async () => (order.push(`r${i}`), b.done)));
      const queuedUnproven = sut.run(false, async () => void order.push('unproven'));
      const queuedProven = sut.run(true, async () => void order.push('proven'));
      expect(await sut.run(false, async () => 'never')).toEqual({ ran: false, shed: 'queue' });
      expect(sut.inFlight).toBe(2);
      blockers.forEach((b) => b.release());
      await Promise.all([...running, queuedUnproven, queuedProven]);
      expect(order).toEqual(['r0', 'r1', 'proven', 'unproven']);
      expect(sut.inFlight).toBe(0);
    });

    it('never sheds a proven caller: the newest unproven waiter makes room, or the queue grows', async () => {
      const sut = new LookupGate(1, 2);
      const blocker = deferred();
      const running = sut.run(false, () => blocker.done);
      const older = sut.run(false, async () => 'older');
      const newer = sut.run(false, async () => 'newer');
      const proven = [
        sut.run(true, async () => 'p1'),
        sut.run(true, async () => 'p2'),
        sut.run(true, async () => 'p3'),
      ];
      expect(await newer).toEqual({ ran: false, shed: 'queue' });
      expect(await older).toEqual({ ran: false, shed: 'queue' });
      blocker.release();
      await running;
      expect(await Promise.all(proven)).toEqual(['p1', 'p2', 'p3'].map((value) => ({ ran: true, value })));
    });

    it('starts at most maxUnprovenPerSecond unproven lookups a second, and proven ones beyond it', async () => {
      const sut = new LookupGate(100, 100, 3);
      const unproven = await Promise.all(Array.from({ length: 5 }, () => sut.run(false, async () => 'x')));
      expect(unproven.filter((r) => r.ran).length).toBe(3);
      expect(unproven.filter((r) => !r.ran)).toEqual([
        { ran: false, shed: 'rate' },
        { ran: false, shed: 'rate' },
      ]);
      expect(await sut.run(true, async () => 'proven')).toEqual({ ran: true, value: 'proven' });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect((await sut.run(false, async () => 'later')).ran).toBe(true);
    });
  });
});
