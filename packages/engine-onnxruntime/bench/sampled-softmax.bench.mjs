#!/usr/bin/env node
// `pnpm bench sampled-softmax`: what sampled softmax (Partial FC) saves. The bottleneck-softmax head (a learned
// classifier W [C, 300] and bias [C] on a 300-wide output layer) on the onnxruntime engine, MLP 300-300-300, dropout
// 0.3, Adam, batch 128, at C = 10,000 and 100,000 classes, trained on every class (share 1) and on a class sample
// per step (shares 0.1 and 0.01: the batch's labels plus uniformly drawn others, at least the batch's 128). With a
// sample, a step's logits are [128, S] instead of [128, C], and lazy Adam updates only the sampled rows of W, b and
// their moments (Gather, update, ScatterND back into the state).
//
// Each configuration runs in a child process of its own (so that one's peak memory is not another's): one warm-up
// epoch and one measured epoch of STEPS batches of random data through the engine's own epoch loop (batch labels and rows,
// dropout masks, class samples, several batches per onnxruntime run, validation on 64 rows). It prints per training
// step the wall and CPU milliseconds of the training session's runs (what an epoch of many steps is made of; the
// rows a run samples are handed in and written back inside them), the rest of the measured epoch (validation over
// every class and the kept weights' copy: once per epoch, the same at every share), the sample size S, the
// process's peak resident set and the bytes of training state a run hands in and takes back.
//
// Flags: --classes=10000,100000 (default both), --shares=1,0.1,0.01 (default all), --threads=N (onnxruntime
// threads; default 1), --quick (fewer steps).
import { createRng, headClassSampleSize, resolveOptions, startHeadParams } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { initialMlpWeights, mlpShape } from '@hyperproto/mlp';
import { TrainingSession, trainOnnxMlp } from '../dist/index.js';
import {
  answerAsChild,
  BATCH,
  benchTrainer,
  flag,
  machineLine,
  mib,
  positiveNumber,
  randomDataset,
  runInChild,
  WIDTH,
} from './child-measurement.mjs';

/** Wall and CPU time inside the training session's runs, while `counting`. */
const inRuns = { counting: false, wall: 0, cpu: 0 };
const run = TrainingSession.prototype.run;
TrainingSession.prototype.run = async function timedRun(batches) {
  const [wall, cpu] = [performance.now(), process.cpuUsage()];
  try {
    return await run.call(this, batches);
  } finally {
    if (inRuns.counting) {
      const used = process.cpuUsage(cpu);
      inRuns.wall += (performance.now() - wall) / 1000;
      inRuns.cpu += (used.user + used.system) / 1e6;
    }
  }
};

const DIMS = 300;
const quick = process.argv.includes('--quick');
const trainer = (maxEpochs) => benchTrainer(300, maxEpochs);

/** Runs in a child process: one configuration's step time, peak memory and state bytes. */
async function measure({ classes, share, steps, threads }) {
  const dataset = randomDataset(createRng(1), classes, steps * BATCH);
  const head = bottleneckSoftmaxHead.build({ classes }, resolveOptions(bottleneckSoftmaxHead, { dims: DIMS, sampledShare: share }));
  // The measured epoch is the second: its wall and CPU time are read when the first and the second end.
  const marks = [];
  const progress = () => {
    marks.push({ wall: performance.now(), cpu: process.cpuUsage() });
    inRuns.counting = marks.length === 1;
  };
  const trained = await trainOnnxMlp({ seed: 1, rng: createRng(1), threads, progress }, { dataset, head, trainer: trainer(2) });
  const peakBytes = process.resourceUsage().maxRSS * 1024;
  trained.model.dispose();
  const [first, second] = marks;
  const epochWallSeconds = (second.wall - first.wall) / 1000;
  // The engine's own count of the state it holds, from a session of the same shape (after the peak was read).
  const shape = mlpShape(WIDTH, trainer(1), head);
  const sample = headClassSampleSize(head, classes, BATCH);
  const session = await TrainingSession.create({
    shape,
    head: startHeadParams(head, createRng(2)),
    learningRate: 1e-3,
    dropout: 0.3,
    weights: initialMlpWeights(shape, createRng(2)),
    session: { threads },
    batchSize: BATCH,
    ...(sample === undefined ? {} : { classSample: sample }),
  });
  const stateBytes = session.stateBytes;
  await session.release();
  return {
    sample: sample ?? classes,
    wallSecondsPerStep: inRuns.wall / steps,
    cpuSecondsPerStep: inRuns.cpu / steps,
    restOfEpochSeconds: epochWallSeconds - inRuns.wall,
    peakBytes,
    stateBytes,
  };
}

async function main() {
  if (answerAsChild(measure)) return;
  const threads = positiveNumber('threads', flag('threads') ?? '1');
  const classCounts = (flag('classes') ?? '10000,100000').split(',').map((c) => positiveNumber('classes', c));
  const shares = (flag('shares') ?? '1,0.1,0.01').split(',').map((s) => positiveNumber('shares', s, { integer: false, max: 1 }));
  console.log(machineLine(threads, 'wall times'));
  console.log(`bottleneck-softmax, D = ${DIMS}, MLP ${WIDTH}-300-300-${DIMS}, dropout 0.3, Adam, batch ${BATCH}, onnxruntime engine\n`);
  console.log(
    '| classes | share | classes per step S | step (wall) | step (CPU) | rest of the epoch (wall) | peak resident set | state per run |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const classes of classCounts) {
    const baseline = {};
    for (const share of shares) {
      const steps = quick ? 4 : classes >= 100_000 ? 12 : 24;
      const measured = await runInChild(import.meta.url, { classes, share, steps, threads });
      if (measured.error) {
        console.log(`| ${classes.toLocaleString('en-US')} | ${share} | failed: ${measured.error} | | | | | |`);
        process.exitCode = 1;
        continue;
      }
      if (share === 1) Object.assign(baseline, measured);
      const ratio = baseline.cpuSecondsPerStep ? ` (${(measured.cpuSecondsPerStep / baseline.cpuSecondsPerStep).toFixed(2)}x)` : '';
      console.log(
        `| ${classes.toLocaleString('en-US')} | ${share} | ${measured.sample.toLocaleString('en-US')} | ${(measured.wallSecondsPerStep * 1000).toFixed(1)} ms | ` +
          `${(measured.cpuSecondsPerStep * 1000).toFixed(1)} ms${ratio} | ${(measured.restOfEpochSeconds * 1000).toFixed(0)} ms | ${mib(measured.peakBytes)} | ${mib(measured.stateBytes)} |`,
      );
    }
  }
  console.log(
    '\nCPU ratios are against share 1 at the same C. State per run: the weights and Adam moments a run hands in and takes back; with a sample, W, b and their moments stay in the engine and only the sampled rows cross (counted per run in the step).',
  );
}

await main();
