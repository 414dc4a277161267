import { describe, expect, it } from 'vitest';
import { EpochHistory } from './epoch-history.js';
import { createRng, type EpochRecord, type NamedWeight, type PluginContext } from '@hyperproto/core';

/** One epoch's record; `seconds` is irrelevant to the rule. */
const record = (epoch: number, validationAccuracy: number, validationLoss: number, trainLoss = 1): EpochRecord => ({
  epoch,
  trainLoss,
  validationLoss,
  validationAccuracy,
  seconds: 0.5,
});

/** A weight that names its epoch, so the kept epoch can be read off the weights. */
const weightsOf = (epoch: number): NamedWeight[] => [{ name: 'w', shape: [1], data: Float32Array.of(epoch) }];

/**
 * Feeds [accuracy, loss] pairs as epochs 1, 2, ... until the rule says stop; returns the epoch it stopped after
 * (undefined when it never did), the kept epoch and which epochs had their weights read.
 */
async function replay(
  epochs: ReadonlyArray<readonly [number, number]>,
  patience: number,
  ctx: Partial<PluginContext> = {},
  maxEpochs = 100,
) {
  const history = new EpochHistory({ seed: 0, rng: createRng(0), ...ctx }, { patience, maxEpochs });
  const read: number[] = [];
  let stoppedAfter: number | undefined;
  for (const [i, [accuracy, loss]] of epochs.entries()) {
    const epoch = i + 1;
    const stop = await history.add(record(epoch, accuracy, loss), () => {
      read.push(epoch);
      return weightsOf(epoch);
    });
    if (stop) {
      stoppedAfter = epoch;
      break;
    }
  }
  return { history, stoppedAfter, kept: history.best?.epoch, read };
}

describe('EpochHistory (the stopping rule of every engine)', () => {
  it('keeps the epoch of the best validation accuracy, reading weights only when an epoch is the best so far', async () => {
    const { kept, read, stoppedAfter, history } = await replay(
      [
        [0.5, 1.0],
        [0.7, 0.9],
        [0.6, 0.5],
        [0.8, 1.2],
        [0.75, 0.4],
      ],
      10,
    );
    expect(stoppedAfter).toBeUndefined();
    expect(kept).toBe(4);
    expect(read).toEqual([1, 2, 4]);
    expect(history.best).toEqual({ epoch: 4, accuracy: 0.8, loss: 1.2, weights: weightsOf(4) });
    expect(history.records.map((r) => r.epoch)).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops after `patience` epochs without a better one, and only then', async () => {
    // Best at epoch 2; epochs 3, 4, 5 are no better: with patience 3 it stops after epoch 5.
    const epochs = [
      [0.5, 1],
      [0.9, 1],
      [0.8, 1],
      [0.9, 2],
      [0.1, 1],
      [0.99, 0.1],
    ] as const;
    expect(await replay(epochs, 3)).toMatchObject({ stoppedAfter: 5, kept: 2 });
    expect(await replay(epochs, 4)).toMatchObject({ stoppedAfter: undefined, kept: 6 });
    // Patience 1: the first epoch that is no better ends training.
    expect(await replay(epochs, 1)).toMatchObject({ stoppedAfter: 3, kept: 2 });
  });

  // [accuracy, loss] of epochs 1, 2, ..., the patience, then the kept epoch and the one it stopped after.
  for (const { rule, epochs, patience, kept, stoppedAfter } of [
    {
      // Gains at epochs 1, 3 and 5, each within patience 2 of the last; then epochs 6 and 7 are no better.
      rule: 'restarts the count at every better epoch',
      epochs: [
        [0.1, 1],
        [0.1, 1],
        [0.2, 1],
        [0.2, 1],
        [0.3, 1],
        [0.3, 1],
        [0.3, 1],
        [0.9, 1],
      ],
      patience: 2,
      kept: 5,
      stoppedAfter: 7,
    },
    {
      // Patience 2: epoch 3 ties epoch 1's accuracy at a lower loss, so epochs 4 and 5 are needed to stop.
      rule: 'a tie at lower loss counts as a gain and restarts the count',
      epochs: [
        [0.8, 0.5],
        [0.7, 0.5],
        [0.8, 0.3],
        [0.7, 0.1],
        [0.8, 0.3],
      ],
      patience: 2,
      kept: 3,
      stoppedAfter: 5,
    },
  ] as const) {
    it(rule, async () => {
      expect(await replay(epochs, patience)).toMatchObject({ kept, stoppedAfter });
    });
  }

  it('breaks a tie in accuracy by the lower validation loss; an equal or higher loss is no gain', async () => {
    const lower = await replay(
      [
        [0.8, 0.5],
        [0.8, 0.4],
      ],
      5,
    );
    expect(lower.kept).toBe(2);
    expect(lower.read).toEqual([1, 2]);
    const notLower = await replay(
      [
        [0.8, 0.5],
        [0.8, 0.5],
        [0.8, 0.6],
      ],
      2,
    );
    expect(notLower).toMatchObject({ kept: 1, stoppedAfter: 3, read: [1] });
    // A lower loss at a lower accuracy is no gain either: accuracy decides first.
    expect(
      await replay(
        [
          [0.8, 0.5],
          [0.7, 0.01],
        ],
        1,
      ),
    ).toMatchObject({ kept: 1, stoppedAfter: 2 });
  });

  it('reports every epoch as progress and says why it stops, naming the kept epoch', async () => {
    const progress: string[] = [];
    const logs: string[] = [];
    await replay(
      [
        [0.5, 0.25],
        [0.25, 0.5],
      ],
      1,
      { progress: (done, total, label) => progress.push(`${done}/${total} ${label}`), log: (m) => logs.push(m) },
    );
    expect(progress).toEqual(['1/100 loss 1.000 val acc 0.500', '2/100 loss 1.000 val acc 0.250']);
    expect(logs).toEqual([
      'early stopping after epoch 2: no better validation accuracy (or equal accuracy at lower loss) for 1 epochs; keeping epoch 1',
    ]);
  });

  it('says nothing of early stopping when patience runs out at maxEpochs, as when maxEpochs ends training with patience left', async () => {
    const epochs = [
      [0.5, 0.25],
      [0.25, 0.5],
    ] as const;
    for (const patience of [1, 5]) {
      const logs: string[] = [];
      const { kept, history } = await replay(epochs, patience, { log: (m) => logs.push(m) }, 2);
      expect({ patience, kept, epochs: history.records.length, logs }).toEqual({ patience, kept: 1, epochs: 2, logs: [] });
    }
  });

  it("gives the kept epoch's model, the whole history and the backend; nothing before the first epoch", async () => {
    const { history } = await replay(
      [
        [0.6, 1],
        [0.9, 1],
        [0.7, 1],
      ],
      5,
    );
    const snapshots: NamedWeight[][] = [];
    const result = history.result((weights) => {
      snapshots.push(weights);
      return { weights } as never;
    }, 'test/cpu');
    expect(snapshots).toEqual([weightsOf(2)]);
    expect(result).toMatchObject({ bestEpoch: 2, backend: 'test/cpu' });
    expect(result!.history.map((r) => r.validationAccuracy)).toEqual([0.6, 0.9, 0.7]);
    // The history is a copy: later epochs do not change a result already given.
    await history.add(record(4, 0.1, 1), () => weightsOf(4));
    expect(result!.history).toHaveLength(3);
    const empty = new EpochHistory({ seed: 0, rng: createRng(0) }, { patience: 1, maxEpochs: 1 });
    expect(empty.best).toBeUndefined();
    expect(empty.result(() => ({}) as never, 'test/cpu')).toBeUndefined();
  });

  it('waits for weights given as a promise', async () => {
    const history = new EpochHistory({ seed: 0, rng: createRng(0) }, { patience: 1, maxEpochs: 2 });
    expect(await history.add(record(1, 0.5, 1), async () => weightsOf(1))).toBe(false);
    expect(history.best?.weights).toEqual(weightsOf(1));
  });
});
