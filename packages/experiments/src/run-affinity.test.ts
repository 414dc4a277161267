import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AffinityQueue, type QueuedRun } from './run-affinity.js';

/** A run `name` of weight `weight` over prototype set `p` and dataset `d` (either may be absent). */
const run = (name: string, weight: number, p?: string, d?: string): QueuedRun<string> => ({ order: name, weight, inputs: [p, d] });
const held = (...keys: string[]) => new Set(keys);

describe('AffinityQueue', () => {
  it('hands out the runs in their order to slots that hold nothing of theirs', () => {
    const queue = new AffinityQueue([run('a', 5, 'p1', 'd1'), run('b', 4, 'p2', 'd1'), run('c', 3, 'p1', 'd1')], 2);
    expect([queue.take(), queue.take(held('p9', 'd9')), queue.take()]).toEqual(['a', 'b', 'c']);
    expect(queue.take()).toBeUndefined();
    expect(queue.length).toBe(0);
  });

  it('gives a slot the first later run over the prototype set it has just made, then over its dataset', () => {
    const fillers = Array.from({ length: 10 }, (_, i) => run(`filler-${i}`, 10));
    const runs = () => [run('big', 10), run('d1', 5, 'p2', 'd1'), run('p1', 3, 'p1', 'd2'), ...fillers];
    // Prototypes first (they cost more to make than data), even past a heavier run over the same dataset.
    expect(new AffinityQueue(runs(), 2).take(held('p1', 'd1'))).toBe('p1');
    expect(new AffinityQueue(runs(), 2).take(held('d1'))).toBe('d1');
    expect(new AffinityQueue(runs(), 2).take(held('p9', 'd9'))).toBe('big');
  });

  it('leaves a run to the slot that is making its prototype set, when there is other work', () => {
    const runs = () => [run('hpn-s0', 9, 'p0', 'd'), ...Array.from({ length: 6 }, (_, i) => run(`other-${i}`, 5, undefined, 'd'))];
    expect(new AffinityQueue(runs(), 2).take(held('p1', 'd'), held('p0', 'd'))).toBe('other-0');
    expect(new AffinityQueue(runs(), 2).take(held('p1', 'd'), held('p2', 'd'))).toBe('hpn-s0');
    expect(new AffinityQueue(runs(), 2).take(held('p0'), held('p0'))).toBe('hpn-s0');
  });

  it('chooses among more queued runs than a call takes arguments (a grid of 300,000 runs)', () => {
    const fillers = Array.from({ length: 300_000 }, (_, i) => run(`filler-${i}`, 10, undefined, 'd1'));
    const queue = new AffinityQueue([run('first', 10), ...fillers, run('last', 10, 'p1', 'd1')], 2);
    // A slot that holds p1 takes the last run (over p1) before the first.
    expect(queue.take(held('p1'))).toBe('last');
    expect(queue.take()).toBe('first');
    expect(queue.length).toBe(300_000);
  });

  it('takes the first run once it has been passed over as many times as there are slots', () => {
    const runs = [
      run('first', 10),
      ...Array.from({ length: 6 }, (_, i) => run(`shared-${i}`, 1, 'p1')),
      ...Array.from({ length: 20 }, (_, i) => run(`filler-${i}`, 10)),
    ];
    const queue = new AffinityQueue(runs, 3);
    const taken = Array.from({ length: 4 }, () => queue.take(held('p1')));
    expect(taken).toEqual(['shared-0', 'shared-1', 'shared-2', 'first']);
  });

  it('keeps the order where too little work is left for the other slots to run beside the first run, unless the two weigh alike', () => {
    // 2 slots: a later run may go first only while the rest of the queue holds at least 2 x the first run's work.
    const tight = new AffinityQueue([run('long', 10), run('short', 1, 'p1'), run('x', 4), run('y', 4)], 2);
    expect(tight.take(held('p1'))).toBe('long');
    const roomy = new AffinityQueue([run('long', 10), run('short', 1, 'p1'), run('x', 10), run('y', 10)], 2);
    expect(roomy.take(held('p1'))).toBe('short');
    // A run nearly as heavy as the first may always change places with it: the last two runs of a grid, say.
    expect(new AffinityQueue([run('s0', 10, 'p0'), run('s1', 9.5, 'p1')], 2).take(held('p1'), held('p0'))).toBe('s1');
    expect(new AffinityQueue([run('s0', 10, 'p0'), run('s1', 8, 'p1')], 2).take(held('p1'), held('p0'))).toBe('s0');
  });

  it('hands out every run exactly once, whatever the slots hold or make, and never nothing while runs wait', () => {
    const keys = ['p1', 'p2', 'p3', 'd1', 'd2'];
    const queued = fc.array(
      fc.record({
        weight: fc.nat(100),
        p: fc.option(fc.constantFrom('p1', 'p2', 'p3'), { nil: undefined }),
        d: fc.option(fc.constantFrom('d1', 'd2'), { nil: undefined }),
      }),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(queued, fc.integer({ min: 1, max: 4 }), fc.array(fc.subarray(keys), { maxLength: 40 }), (items, slots, helds) => {
        const queue = new AffinityQueue(
          items.map((item, i) => run(`r${i}`, item.weight, item.p, item.d)),
          slots,
        );
        const out: string[] = [];
        for (let i = 0; i < items.length; i++) {
          const next = queue.take(
            new Set(helds[i % Math.max(1, helds.length)] ?? []),
            new Set(helds[(i + 1) % Math.max(1, helds.length)] ?? []),
          );
          expect(next).toBeDefined();
          out.push(next!);
        }
        expect(queue.take(held('p1'))).toBeUndefined();
        expect(out.sort()).toEqual(items.map((_, i) => `r${i}`).sort());
      }),
    );
  });
});
