#!/usr/bin/env node
// `pnpm bench thread-trial`: what the onnxruntime engine's thread trial (TrainingSessionSpec.tryOneThread) does when
// other work takes the cores halfway through a training. HPN (C = 1,000, D = 100, batch 256; or softmax over the same
// classes, --head=softmax) trains with trainOnnxMlp for EPOCHS epochs; after half of them, HOG processes (one per core, at the same priority, each a busy
// loop: the load of another training or a test suite) start and run to the end. The same training runs twice in each
// round, in alternating order: with the trial revisiting its choice during training (the engine's default) and with
// it deciding once, at the start (`revisitThreadTrial: false`, the engine before revisits). Printed: each epoch's
// seconds, the side the trial kept at its end (`budget`: the thread budget, whose pool threads spin within a run;
// `one`: one onnxruntime thread) and the runs each side took in it; then, per mode, the mean epoch before and after
// the hog started (the first epoch, which holds the trial's first round, aside) and their ratio in the same round.
//
// Flags: --head=hpn|softmax, --epochs=N (default 12), --steps=N (batches per epoch, default 300), --rounds=N (default 1), --hogs=N
// (busy processes, default: one per core), --threads=N (onnxruntime's thread budget; default every core),
// --quick (6 epochs of 60 batches).
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { createRng } from '@hyperproto/core';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { TrainingSession, trainOnnxMlp } from '../dist/index.js';
import { flag, machineLine, positiveNumber, randomDataset, randomPrototypes } from './child-measurement.mjs';

const quick = process.argv.includes('--quick');
const EPOCHS = positiveNumber('epochs', flag('epochs'), { fallback: quick ? 6 : 12 });
const STEPS = positiveNumber('steps', flag('steps'), { fallback: quick ? 60 : 300 });
const ROUNDS = positiveNumber('rounds', flag('rounds'), { fallback: 1 });
const HOGS = positiveNumber('hogs', flag('hogs'), { fallback: availableParallelism() });
const THREADS = flag('threads') === undefined ? undefined : positiveNumber('threads', flag('threads'));
const HEAD = flag('head') ?? 'hpn';
if (HEAD !== 'hpn' && HEAD !== 'softmax') {
  console.error(`--head takes hpn or softmax, got ${HEAD}`);
  process.exit(2);
}
const CLASSES = 1000;
const DIMS = 100;
const BATCH = 256;
const HOG_FROM = Math.ceil(EPOCHS / 2) + 1;
if (EPOCHS < 4) {
  console.error('--epochs takes at least 4: a warm-up epoch, and epochs before and after the hog');
  process.exit(2);
}

/** `count` busy processes at this process's priority; `stop()` ends them. */
function startHog(count) {
  const children = Array.from({ length: count }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return { stop: () => children.forEach((child) => child.kill()) };
}

const load = () => loadavg()[0].toFixed(1);

/** One training with or without revisits: per epoch, its seconds, the side kept and the runs of each side. */
async function train(revisit) {
  const rng = createRng(1);
  const dataset = randomDataset(rng.fork('data'), CLASSES, STEPS * BATCH);
  const head =
    HEAD === 'hpn'
      ? hpnHead.build({ classes: CLASSES, prototypes: randomPrototypes(rng.fork('prototypes'), CLASSES, DIMS) }, {})
      : softmaxHead.build({ classes: CLASSES }, {});
  // The engine opens its own training session: the mode goes in, and the session comes out for its counts.
  const create = TrainingSession.create;
  let session;
  TrainingSession.create = async (spec) => (session = await create.call(TrainingSession, { ...spec, revisitThreadTrial: revisit }));
  const epochs = [];
  let before = { budget: 0, one: 0 };
  let hog;
  try {
    const ctx = {
      seed: 1,
      rng: createRng(1),
      ...(THREADS ? { threads: THREADS } : {}),
      progress: (epoch) => {
        const runs = session.threadRuns;
        epochs.push({ kept: session.threadTrial, budget: runs.budget - before.budget, one: runs.one - before.one, load: load() });
        before = runs;
        if (epoch === HOG_FROM - 1) hog = startHog(HOGS);
      },
    };
    const trainer = {
      hiddenUnits: 300,
      hiddenLayers: 2,
      dropout: 0.3,
      batchSize: BATCH,
      learningRate: 1e-3,
      patience: 1000,
      maxEpochs: EPOCHS,
    };
    const result = await trainOnnxMlp(ctx, { dataset, head, trainer });
    result.model.dispose();
    result.history.forEach((record, i) => (epochs[i].seconds = record.seconds));
    return { epochs, runs: session.threadRuns };
  } finally {
    hog?.stop();
    TrainingSession.create = create;
  }
}

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

console.log(machineLine(THREADS ?? availableParallelism(), 'times'));
console.log(
  `${HEAD === 'hpn' ? `HPN, C = ${CLASSES.toLocaleString('en-US')}, D = ${DIMS}` : `softmax, C = ${CLASSES.toLocaleString('en-US')}`}, batch ${BATCH}, MLP 300-300-300, ${STEPS} batches per epoch, ${EPOCHS} epochs; ` +
    `${HOGS} busy processes from epoch ${HOG_FROM}; ${ROUNDS} round${ROUNDS > 1 ? 's' : ''} of both modes, alternating\n`,
);
const summary = { revisit: [], once: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const revisit of round % 2 ? [false, true] : [true, false]) {
    const mode = revisit ? 'revisit' : 'once';
    const { epochs, runs } = await train(revisit);
    console.log(`round ${round + 1}, ${mode === 'revisit' ? 'revisiting the choice' : 'deciding once'}:`);
    epochs.forEach((e, i) => {
      const hogOn = i + 1 >= HOG_FROM ? 'hog' : '   ';
      console.log(
        `  epoch ${String(i + 1).padStart(2)} ${hogOn} ${e.seconds.toFixed(2).padStart(6)} s  kept ${e.kept.padEnd(6)} ` +
          `runs budget ${String(e.budget).padStart(3)} one ${String(e.one).padStart(3)}  load ${e.load}`,
      );
    });
    const quiet = mean(epochs.slice(1, HOG_FROM - 1).map((e) => e.seconds));
    const loaded = mean(epochs.slice(HOG_FROM - 1).map((e) => e.seconds));
    summary[mode].push({ quiet, loaded });
    // With the hog, the epochs that ran on one side only (the hog's first epoch, which holds its start, aside).
    const bySide = ['budget', 'one']
      .map((side) => [side, epochs.slice(HOG_FROM).filter((e) => e[side] > 0 && e[side === 'one' ? 'budget' : 'one'] === 0)])
      .filter(([, on]) => on.length)
      .map(([side, on]) => `on ${side} ${mean(on.map((e) => e.seconds)).toFixed(2)} s (${on.length} epochs)`);
    console.log(
      `  mean epoch: ${quiet.toFixed(2)} s before the hog, ${loaded.toFixed(2)} s with it (x${(loaded / quiet).toFixed(2)}); ` +
        `with it, ${bySide.join(', ')}; revisits ${runs.revisits}, changes of side ${runs.switches}\n`,
    );
  }
}
console.log('summary (mean of rounds)');
for (const [mode, rounds] of Object.entries(summary)) {
  const quiet = mean(rounds.map((r) => r.quiet));
  const loaded = mean(rounds.map((r) => r.loaded));
  console.log(`  ${mode.padEnd(8)} before the hog ${quiet.toFixed(2)} s per epoch, with it ${loaded.toFixed(2)} s`);
}
const ratio = mean(summary.revisit.map((r, i) => r.loaded / summary.once[i].loaded));
console.log(`  with the hog, an epoch revisiting takes ${ratio.toFixed(2)}x the time of one deciding once (mean of rounds)`);
