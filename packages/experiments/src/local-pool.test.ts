import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LocalPool, type RunInputs } from './local-pool.js';
import type { RunOrder } from './run-execution.js';
import type { RunEvents } from './run-scheduler.js';
import type { RunSlot } from './run-slots.js';
import { softmaxRecord } from './test-support/fake-record.js';

/** A slot that takes `ms[key]` milliseconds per run and notes what it ran. */
class TimedSlot implements RunSlot {
  readonly ran: string[] = [];
  constructor(private readonly ms: Readonly<Record<string, number>>) {}
  async run(order: RunOrder) {
    this.ran.push(order.key);
    await sleep(this.ms[order.key] ?? 1);
    return softmaxRecord(0, { key: order.key });
  }
  abort() {}
  async close() {}
}

const order = (key: string): RunOrder => ({ key, dataset: 'c', model: key.split('/')[0]!, seed: 0, spec: {} as RunOrder['spec'] });
const events: RunEvents = { started() {}, progress() {}, finished: async () => {}, failed: async () => {}, released() {} };

describe('LocalPool', () => {
  it('gives a freed slot the waiting run over the prototype set it has just made, and every run once', async () => {
    // hpn and cosine-softmax over the prototypes of seeds 0 and 1, then lighter runs. cos/s1 ends first: its slot
    // takes hpn/s1, then leaves hpn/s0 to the slot still making its prototypes and takes a lighter run instead.
    const keys = ['cos/s0', 'cos/s1', 'hpn/s0', 'hpn/s1', ...Array.from({ length: 6 }, (_, i) => `other/s${i}`)];
    const inputs: RunInputs = new Map(
      keys.map((key) => [
        key,
        {
          weight: key.startsWith('other') ? 5 : key.startsWith('cos') ? 10 : 9,
          inputs: [key.startsWith('other') ? undefined : `prototypes ${key.split('/')[1]}`, 'data'],
        },
      ]),
    );
    const ms = { 'cos/s0': 200, 'cos/s1': 10, 'hpn/s0': 10, 'hpn/s1': 10, ...Object.fromEntries(keys.slice(4).map((key) => [key, 400])) };
    const slots = [new TimedSlot(ms), new TimedSlot(ms)];
    await new LocalPool(slots, null, inputs).execute(keys.map(order), events);
    expect(slots[0]!.ran.slice(0, 2)).toEqual(['cos/s0', 'hpn/s0']);
    expect(slots[1]!.ran.slice(0, 2)).toEqual(['cos/s1', 'hpn/s1']);
    expect([...slots[0]!.ran, ...slots[1]!.ran].sort()).toEqual([...keys].sort());

    // Without what the runs share, the freed slot takes the first waiting run (hpn/s0, made by the other slot).
    const plain = [new TimedSlot(ms), new TimedSlot(ms)];
    await new LocalPool(plain, null).execute(keys.map(order), events);
    expect(plain[1]!.ran.slice(0, 2)).toEqual(['cos/s1', 'hpn/s0']);
  });
});
