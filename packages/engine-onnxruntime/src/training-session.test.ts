import { createRng, h, type HeadDefinition, type NamedWeight } from '@hyperproto/core';
import { softmaxLoss } from '@hyperproto/head-softmax';
import { initialMlpWeights, type MlpShape } from '@hyperproto/mlp';
import { describe, expect, it } from 'vitest';
import { fillDropoutMask } from './dropout-mask.js';
import { MOVING_STATISTICS, SMALL_WEIGHTS } from './training-step-graph.js';
import { type PackedBatches, type ThreadSide, TrainingSession, type TrainingSessionSpec } from './training-session.js';

// The head's kernel of 64 x 16,384 values (2^20) has a state tensor of its own; every other weight shares the row.
const shape: MlpShape = { inputWidth: 40, hiddenUnits: 64, hiddenLayers: 2, outputUnits: 16_384 };

function randomBatches(count: number, rows: number, seed: number): PackedBatches {
  const rng = createRng(seed);
  const features = rng.fillNormal(new Float32Array(count * rows * shape.inputWidth));
  const labels = Int32Array.from({ length: count * rows }, () => rng.int(shape.outputUnits));
  const dropoutMasks = Array.from({ length: shape.hiddenLayers }, () => {
    const mask = new Float32Array(count * rows * shape.hiddenUnits);
    fillDropoutMask(rng, mask, 0, mask.length, 0.3);
    return mask;
  });
  return { count, rows, features, labels, dropoutMasks };
}

/** Softmax cross-entropy, scores scaled by `scoreScale` (a parameter only the scores read) and, if asked, `lossScale`. */
function headWithParams(lossScale: boolean): HeadDefinition {
  return {
    outputUnits: shape.outputUnits,
    loss: lossScale ? h.mul(softmaxLoss, h.param('lossScale', 1.5)) : softmaxLoss,
    scores: h.mul(h.softmax(h.output()), h.param('scoreScale', 2)),
    scoresName: 'scaled probabilities',
    constants: {},
  };
}

const byName = (weights: readonly NamedWeight[]) => new Map(weights.map((w) => [w.name, w]));

describe('TrainingSession state', () => {
  it('holds a kernel of millions of values alone and the other trainable weights in one row, and hands back the starting weights', async () => {
    const head = headWithParams(true);
    const weights = initialMlpWeights(shape, createRng(1));
    const session = await TrainingSession.create({ shape, head, weights, learningRate: 1e-2, dropout: 0.3 });
    try {
      expect(session.model.stateInputs).toEqual([
        'head/dense/kernel',
        SMALL_WEIGHTS,
        MOVING_STATISTICS,
        'adam/m/head/dense/kernel',
        `adam/m/${SMALL_WEIGHTS}`,
        'adam/v/head/dense/kernel',
        `adam/v/${SMALL_WEIGHTS}`,
        'adam/step',
      ]);
      expect(session.model.stateShapes[0]).toEqual([64, 16_384]);
      // The kernels of dense0 (2,560) and dense1 (4,096), 2 x (gamma, beta) of 64, the head's bias and the two parameters.
      expect(session.model.stateShapes[1]).toEqual([1, 2560 + 4096 + 4 * 64 + 16_384 + 2]);
      const handed = byName(session.weights());
      expect([...handed.keys()]).toEqual([...weights.map((w) => w.name), 'head/param/lossScale', 'head/param/scoreScale']);
      // Compared as bytes: deep equality of a million-value array takes seconds.
      const bytes = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (const weight of weights) expect(bytes(handed.get(weight.name)!.data).equals(bytes(weight.data)), weight.name).toBe(true);
      expect([...handed.get('head/param/lossScale')!.data]).toEqual([1.5]);
      expect([...handed.get('head/param/scoreScale')!.data]).toEqual([2]);
    } finally {
      await session.release();
    }
  });

  it('trains every weight a gradient reaches, and leaves a head parameter that only the scores read as it was (as tfjs)', async () => {
    const head = headWithParams(true);
    const weights = initialMlpWeights(shape, createRng(2));
    const session = await TrainingSession.create({ shape, head, weights, learningRate: 1e-2, dropout: 0.3 });
    try {
      const { losses } = await session.run(randomBatches(3, 16, 3));
      expect(losses).toHaveLength(3);
      expect(session.steps).toBe(3);
      const trained = byName(session.weights());
      const changed = (name: string, from: ArrayLike<number>) => Array.from(from).some((v, i) => v !== trained.get(name)!.data[i]);
      for (const weight of weights) expect(changed(weight.name, weight.data), weight.name).toBe(true);
      expect(changed('head/param/lossScale', [1.5])).toBe(true);
      expect([...trained.get('head/param/scoreScale')!.data]).toEqual([2]);
    } finally {
      await session.release();
    }
  });

  it('reads the batches rows by index from a larger set of rows exactly as the same rows packed batch by batch', async () => {
    const head = headWithParams(false);
    const weights = initialMlpWeights(shape, createRng(5));
    const packed = randomBatches(3, 16, 6);
    // The 48 packed rows scattered over 100 rows of other values, and where each landed.
    const rng = createRng(7);
    const split = rng.fillNormal(new Float32Array(100 * shape.inputWidth));
    const featureRows = Int32Array.from({ length: 100 }, (_, i) => i)
      .sort((a, b) => ((a * 37 + 11) % 100) - ((b * 37 + 11) % 100))
      .subarray(0, 48);
    featureRows.forEach((row, i) =>
      split.set(packed.features.subarray(i * shape.inputWidth, (i + 1) * shape.inputWidth), row * shape.inputWidth),
    );
    const [a, b] = await Promise.all([0, 1].map(() => TrainingSession.create({ shape, head, weights, learningRate: 1e-2, dropout: 0.3 })));
    try {
      const fromPacked = await a!.run(packed);
      const byIndex = await b!.run({ ...packed, features: split, featureRows });
      expect([...byIndex.losses]).toEqual([...fromPacked.losses]);
      const bytes = (weights: readonly NamedWeight[]) =>
        Buffer.concat(weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)));
      expect(bytes(b!.weights()).equals(bytes(a!.weights()))).toBe(true);
      // Rows that no batch reads change nothing: other values there give the same numbers.
      const unread = Array.from({ length: 100 }, (_, i) => i).find((i) => !featureRows.includes(i))!;
      split.fill(1e6, unread * shape.inputWidth, (unread + 1) * shape.inputWidth);
      expect([...(await b!.run({ ...packed, features: split, featureRows })).losses]).toEqual([...(await a!.run(packed)).losses]);
    } finally {
      await a!.release();
      await b!.release();
    }
  });
});

describe('TrainingSession thread trial', () => {
  const small: MlpShape = { inputWidth: 12, hiddenUnits: 16, hiddenLayers: 2, outputUnits: 6 };
  const head = headWithParams(false);
  const batches = (seed: number) => {
    const rng = createRng(seed);
    const count = 4;
    const rows = 8;
    return {
      count,
      rows,
      features: rng.fillNormal(new Float32Array(count * rows * small.inputWidth)),
      labels: Int32Array.from({ length: count * rows }, () => rng.int(small.outputUnits)),
      dropoutMasks: Array.from({ length: small.hiddenLayers }, () => {
        const mask = new Float32Array(count * rows * small.hiddenUnits);
        fillDropoutMask(rng, mask, 0, mask.length, 0.3);
        return mask;
      }),
    };
  };
  const train = async (session: TrainingSession) => {
    const losses: number[] = [];
    for (let run = 0; run < 8; run++) losses.push(...(await session.run(batches(10 + run))).losses);
    return { losses, weights: session.weights().map((w) => [...w.data]) };
  };

  it('keeps one thread or the budget after a few runs of 4 batches, with the same numbers as a session told its threads', async () => {
    const spec = {
      shape: small,
      head: { ...head, outputUnits: 6 },
      weights: initialMlpWeights(small, createRng(4)),
      learningRate: 1e-2,
      dropout: 0.3,
    };
    const told = await TrainingSession.create({ ...spec, session: { threads: 2 } });
    const trying = await TrainingSession.create({ ...spec, session: { threads: 2 }, tryOneThread: true });
    try {
      expect(told.threadTrial).toBe('off');
      expect(trying.threadTrial).toBe('trying');
      const [a, b] = [await train(told), await train(trying)];
      expect(['budget', 'one']).toContain(trying.threadTrial);
      expect(b.losses).toEqual(a.losses);
      expect(b.weights).toEqual(a.weights);
    } finally {
      await told.release();
      await trying.release();
    }
  });

  /**
   * A trial clock under a load that the test sets: each timed run takes `msPerBatch(side)` per batch on the side it
   * ran on. The session reads it as each timed run starts and ends, so it moves forward at every second read.
   */
  const simulatedClock = (msPerBatch: (side: ThreadSide) => number) => {
    let now = 0;
    let reads = 0;
    let session: TrainingSession | undefined;
    return {
      clock: () => {
        if (reads++ % 2 === 1) now += msPerBatch(session!.threadSide) * 4;
        return now;
      },
      attach: (s: TrainingSession) => (session = s),
    };
  };
  const spec = (seed: number) => ({
    shape: small,
    head: { ...head, outputUnits: 6 },
    weights: initialMlpWeights(small, createRng(seed)),
    learningRate: 1e-2,
    dropout: 0.3,
    session: { threads: 2 },
  });
  /** A session with the trial on, timed by `simulatedClock(msPerBatch)`. */
  const simulated = async (base: TrainingSessionSpec, msPerBatch: (side: ThreadSide) => number, revisit = true) => {
    const { clock, attach } = simulatedClock(msPerBatch);
    const session = await TrainingSession.create({ ...base, tryOneThread: true, revisitThreadTrial: revisit, trialClock: clock });
    attach(session);
    return session;
  };

  it('revisits its choice while training, changes sides as the load changes, and gives the same numbers as never changing', async () => {
    // Quiet: the budget is faster. Loaded (runs 30 to 89): the budget's spinning threads are 1.5x slower than one.
    let loaded = false;
    const msPerBatch = (side: ThreadSide) => (side === 'budget' ? (loaded ? 3000 : 1000) : 2000);
    const told = await TrainingSession.create(spec(6));
    const revisiting = await simulated(spec(6), msPerBatch);
    const once = await simulated(spec(6), msPerBatch, false);
    // Deciding once for one thread, which then runs alone.
    const onceOnOne = await simulated(spec(6), (side) => (side === 'one' ? 500 : 1000), false);
    const sessions = [told, revisiting, once, onceOnOne];
    try {
      const results = new Map<TrainingSession, { losses: number[]; kept: string[] }>();
      for (const session of sessions) results.set(session, { losses: [], kept: [] });
      for (let run = 0; run < 130; run++) {
        loaded = run >= 30 && run < 90;
        for (const [session, { losses, kept }] of results) {
          losses.push(...(await session.run(batches(100 + run))).losses);
          kept.push(session.threadTrial);
        }
      }
      const kept = results.get(revisiting)!.kept;
      expect(kept.slice(5, 30).every((side) => side === 'budget')).toBe(true);
      expect(kept.slice(30, 90)).toContain('one');
      expect(kept.at(-1)).toBe('budget');
      const runs = revisiting.threadRuns;
      expect(runs.switches).toBe(2);
      expect(runs.revisits).toBeGreaterThanOrEqual(3);
      // The first run ran on both sides.
      expect(runs.budget + runs.one).toBe(131);
      expect(runs.one).toBeGreaterThan(runs.revisits * 2);
      // Decided once, on a quiet machine: the budget to the end.
      expect(
        results
          .get(once)!
          .kept.slice(5)
          .every((side) => side === 'budget'),
      ).toBe(true);
      expect(once.threadRuns).toMatchObject({ revisits: 0, switches: 0 });
      expect(onceOnOne.threadTrial).toBe('one');
      expect(onceOnOne.threadRuns).toEqual({ budget: 3, one: 128, revisits: 0, switches: 0 });
      expect(told.threadRuns).toEqual({ budget: 130, one: 0, revisits: 0, switches: 0 });
      for (const session of [revisiting, once, onceOnOne]) {
        expect(results.get(session)!.losses).toEqual(results.get(told)!.losses);
        expect(session.weights()).toEqual(told.weights());
      }
    } finally {
      for (const session of sessions) await session.release();
    }
  });

  it('keeps its side against a small lead of the other, and spends a small share of its runs on the other side', async () => {
    // One thread 5% faster at first (the first round keeps it), then the budget 5% faster (within the hysteresis).
    let budgetLeads = false;
    const session = await simulated(spec(7), (side) => (side === (budgetLeads ? 'budget' : 'one') ? 1900 : 2000));
    try {
      for (let run = 0; run < 5; run++) await session.run(batches(200 + run));
      expect(session.threadTrial).toBe('one');
      const decided = session.threadRuns;
      for (let run = 5; run < 200; run++) {
        budgetLeads = run >= 100;
        await session.run(batches(200 + run));
        expect(session.threadTrial).toBe('one');
      }
      const runs = session.threadRuns;
      expect(runs.switches).toBe(0);
      expect(runs.revisits).toBeGreaterThanOrEqual(5);
      const onBudget = runs.budget - decided.budget;
      expect(onBudget / (runs.budget + runs.one - decided.budget - decided.one)).toBeLessThanOrEqual(0.1);
    } finally {
      await session.release();
    }
  });

  it('does not revisit within half a minute of runs', async () => {
    // 40 ms runs: 150 of them are 6 s of training.
    const session = await simulated(spec(8), (side) => (side === 'one' ? 20 : 10));
    try {
      for (let run = 0; run < 150; run++) await session.run(batches(300 + run));
      expect(session.threadTrial).toBe('budget');
      expect(session.threadRuns).toEqual({ budget: 148, one: 3, revisits: 0, switches: 0 });
    } finally {
      await session.release();
    }
    // Still told once released.
    expect(session.threadTrial).toBe('budget');
    expect(session.threadRuns).toMatchObject({ budget: 148, one: 3 });
  });

  it('checks the first run of every shape on both sides, not only the first run', async () => {
    // One thread faster: kept after the first round. A run of another shape then runs on both sides again.
    const session = await simulated(spec(9), (side) => (side === 'one' ? 1000 : 2000));
    try {
      for (let run = 0; run < 5; run++) await session.run(batches(400 + run));
      expect(session.threadRuns).toEqual({ budget: 3, one: 3, revisits: 0, switches: 0 });
      const short = batches(405);
      const shortRun = {
        ...short,
        count: 1,
        rows: 3,
        features: short.features.subarray(0, 3 * small.inputWidth),
        labels: short.labels.subarray(0, 3),
        dropoutMasks: short.dropoutMasks.map((m) => m.subarray(0, 3 * small.hiddenUnits)),
      };
      await session.run(shortRun);
      expect(session.threadRuns).toMatchObject({ budget: 4, one: 4 });
      // Checked once: the next run of that shape runs on one side.
      await session.run(shortRun);
      const { budget, one } = session.threadRuns;
      expect(budget + one).toBe(9);
    } finally {
      await session.release();
    }
  });

  it('gives the same numbers as a session told its threads when short batches follow full ones on one thread', async () => {
    // An epoch as the engine trains it: runs of full batches and the short last batch alone. With 4 rows a 300 x 64
    // layer rounds differently on one thread than on two where 128 rows do not (measured on 2 cores).
    const wide: MlpShape = { inputWidth: 300, hiddenUnits: 64, hiddenLayers: 2, outputUnits: 3 };
    const wideSpec = {
      shape: wide,
      head: { ...head, outputUnits: 3 },
      weights: initialMlpWeights(wide, createRng(10)),
      learningRate: 1e-3,
      dropout: 0.3,
      session: { threads: 2 },
    };
    const packed = (count: number, rows: number, seed: number): PackedBatches => {
      const rng = createRng(seed);
      const dropoutMasks = Array.from({ length: wide.hiddenLayers }, () => {
        const mask = new Float32Array(count * rows * wide.hiddenUnits);
        fillDropoutMask(rng, mask, 0, mask.length, 0.3);
        return mask;
      });
      const features = rng.fillNormal(new Float32Array(count * rows * wide.inputWidth));
      return { count, rows, features, labels: Int32Array.from({ length: count * rows }, () => rng.int(3)), dropoutMasks };
    };
    const told = await TrainingSession.create(wideSpec);
    const trying = await simulated(wideSpec, (side) => (side === 'one' ? 1000 : 2000));
    try {
      const losses = new Map<TrainingSession, number[]>([
        [told, []],
        [trying, []],
      ]);
      for (let epoch = 0; epoch < 8; epoch++) {
        for (const [count, rows] of [
          [4, 128],
          [1, 4],
        ] as const) {
          const run = packed(count, rows, 500 + 2 * epoch + count);
          for (const [session, sofar] of losses) sofar.push(...(await session.run(run)).losses);
        }
      }
      expect(losses.get(trying)).toEqual(losses.get(told));
      expect(trying.weights()).toEqual(told.weights());
      // The full batches still follow the trial (one thread, the faster here): a short batch that rounds otherwise
      // keeps only its own runs on the budget.
      expect(trying.threadRuns.one).toBeGreaterThanOrEqual(5);
    } finally {
      await told.release();
      await trying.release();
    }
  });

  it('is off on a budget of one thread', async () => {
    const session = await TrainingSession.create({
      shape: small,
      head: { ...head, outputUnits: 6 },
      weights: initialMlpWeights(small, createRng(5)),
      learningRate: 1e-2,
      dropout: 0.3,
      session: { threads: 1 },
      tryOneThread: true,
    });
    try {
      expect(session.threadTrial).toBe('off');
    } finally {
      await session.release();
    }
  });
});
