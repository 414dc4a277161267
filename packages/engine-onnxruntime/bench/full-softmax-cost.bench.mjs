#!/usr/bin/env node
// `pnpm bench full-softmax-cost`: what full softmax costs on the shapes of the many-classes study
// (packages/experiments/presets/many-classes.json), where a run cannot finish on a machine of two cores. It measures,
// on the onnxruntime engine and on random data (the time of a step does not depend on what is learnt):
// - the training step: a fresh softmax MLP 300-300-300-C (dropout 0.3, Adam, batch 128) trained for one warm-up
//   epoch and one measured epoch of STEPS batches, with the engine's own epoch loop (batch labels and rows, dropout masks,
//   several batches per onnxruntime run); seconds per step = the measured epoch's seconds / STEPS;
// - inference on INFER_ROWS rows, seconds per row: the engine's evaluate (what validation after each epoch costs)
//   and the trained model's predict, which keeps every class's score of every row (what the test split costs);
// - memory: the process's peak resident set after training and after inference (each class count in a child
//   process of its own, so that one count's peak is not another's) and the bytes of one set of the training
//   session's state (the weights and Adam's two moments; it holds two such sets and swaps between them).
// Then it PROJECTS: seconds per epoch = steps per epoch (C x trainPerClass / 128, from the preset) x seconds per
// step + validation rows x seconds per row; seconds per run = that x the epochs softmax needed at 1,000 classes (the
// study's own c1000 softmax records when they exist, else the collapse study's c1000-n20 softmax records, else
// --epochs) + test rows x seconds per row. With one onnxruntime thread (the default) the projections use the
// process's CPU time, what a step costs on an idle core however loaded the machine is; wall time is printed beside
// it. Projections are labelled PROJECTED: nothing here trains a 10,000- or 100,000-class softmax to the end.
//
// Beside it, the same measurements for the study's other heads at D = 100, 300 and 1,000 on the same shapes (HPN,
// cosine-softmax, bottleneck-softmax, and the two softmax heads on a sampled 1% of the classes per step), with the
// projected seconds per epoch: what the study's estimate is built from (--no-others skips them).
//
// Flags: --classes=10000,100000 (default both), --threads=N (onnxruntime threads; default 1, as each of the study's
// two workers on two cores), --epochs=N (instead of the recorded epochs), --quick (a few steps: a smoke run, not a
// measurement), --no-others.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRng, headParamWeights, resolveOptions } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { cosineSoftmaxHead } from '@hyperproto/head-cosine-softmax';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { initialMlpWeights, mlpShape } from '@hyperproto/mlp';
import { InferenceSession, TrainingSession, trainOnnxMlp } from '../dist/index.js';
import {
  answerAsChild,
  BATCH,
  benchTrainer as trainer,
  cpuSeconds,
  flag,
  machineLine,
  mib,
  positiveNumber,
  randomDataset,
  randomPrototypes,
  randomSplit,
  runInChild,
  WIDTH,
} from './child-measurement.mjs';

const INFER_ROWS = 2048;
/** The study's sampled share: the batch's classes plus 1% of the others per step. */
const SAMPLED_SHARE = 0.01;
const root = new URL('../../../', import.meta.url);
const PRESET = new URL('packages/experiments/presets/many-classes.json', root);
const STUDY_RESULTS = new URL('docs/results/many-classes/results.jsonl', root);
const COLLAPSE_RESULTS = new URL('docs/results/collapse/results.jsonl', root);

const quick = process.argv.includes('--quick');
const noOthers = process.argv.includes('--no-others');

/**
 * CPU seconds per training step (the second of two epochs of `steps` batches) and per row of validation (the
 * engine's evaluate: loss, accuracy and argmax, no scores kept) of one head.
 */
async function stepAndValidation({ classes, head, hiddenUnits, steps, threads, rng }) {
  const dataset = randomDataset(rng, classes, steps * BATCH);
  const cpuAtEpoch = [];
  const ctx = { seed: 1, rng: createRng(1), threads, progress: () => cpuAtEpoch.push(cpuSeconds()) };
  const trained = await trainOnnxMlp(ctx, { dataset, head, trainer: trainer(hiddenUnits, 2) });
  const inference = await InferenceSession.create(mlpShape(WIDTH, trainer(hiddenUnits, 1), head), head, classes, { threads });
  try {
    const rows = randomSplit(rng, INFER_ROWS, classes);
    const before = cpuSeconds();
    // A learned classifier's weights (head parameters) follow the network's, as the engine feeds them.
    await inference.evaluate([...trained.model.weights, ...headParamWeights(trained.model.head)], rows);
    return { cpuSecondsPerStep: (cpuAtEpoch[1] - cpuAtEpoch[0]) / steps, cpuSecondsPerRow: (cpuSeconds() - before) / INFER_ROWS };
  } finally {
    await inference.release();
    trained.model.dispose();
  }
}

/**
 * The study's other heads on the same shapes: HPN and cosine-softmax over fixed prototypes, bottleneck-softmax (a
 * learned classifier [C, D] over a D-wide layer), and the two softmax heads on a sampled 1% of the classes per step
 * (the study's sampled softmax and sampled cosine-softmax), at D = 100, 300 and 1,000.
 */
async function otherHeads({ classes, hiddenUnits, threads, quick: fewer }) {
  const rng = createRng(3);
  const out = [];
  const large = classes >= 100_000;
  const heads = [
    ['hpn', (dims) => hpnHead.build({ classes, prototypes: randomPrototypes(rng, classes, dims) }, {}), large ? 24 : 48],
    [
      'cosine-softmax',
      (dims) => cosineSoftmaxHead.build({ classes, prototypes: randomPrototypes(rng, classes, dims) }, {}),
      large ? 6 : 16,
    ],
    [
      'cosine-softmax 1%',
      (dims) =>
        cosineSoftmaxHead.build(
          { classes, prototypes: randomPrototypes(rng, classes, dims) },
          resolveOptions(cosineSoftmaxHead, { sampledShare: SAMPLED_SHARE }),
        ),
      32,
    ],
    ['bottleneck', (dims) => bottleneckSoftmaxHead.build({ classes }, resolveOptions(bottleneckSoftmaxHead, { dims })), large ? 6 : 16],
    [
      'bottleneck 1%',
      (dims) => bottleneckSoftmaxHead.build({ classes }, resolveOptions(bottleneckSoftmaxHead, { dims, sampledShare: SAMPLED_SHARE })),
      32,
    ],
  ];
  for (const [name, build, steps] of heads) {
    for (const dims of [100, 300, 1000]) {
      const head = build(dims);
      out.push({ name, dims, ...(await stepAndValidation({ classes, head, hiddenUnits, steps: fewer ? 3 : steps, threads, rng })) });
    }
  }
  return out;
}

/** Runs in a child process: one class count's step time, inference time, peak memory and state bytes. */
async function measure({ classes, hiddenUnits, steps, threads, others: withOthers, quick: fewer }) {
  const rng = createRng(1);
  const dataset = randomDataset(rng, classes, steps * BATCH);
  const head = softmaxHead.build({ classes }, {});
  // The process's CPU seconds at the end of each epoch: with one onnxruntime thread, the measured epoch's CPU time is
  // what the step costs on an idle core, however busy the machine is.
  const cpuAtEpoch = [];
  const ctx = { seed: 1, rng: createRng(1), threads, progress: () => cpuAtEpoch.push(cpuSeconds()) };
  const trained = await trainOnnxMlp(ctx, { dataset, head, trainer: trainer(hiddenUnits, 2) });
  const secondsPerStep = trained.history[1].seconds / steps;
  const cpuSecondsPerStep = (cpuAtEpoch[1] - cpuAtEpoch[0]) / steps;
  const peakTrainingBytes = process.resourceUsage().maxRSS * 1024;
  const rows = randomSplit(rng, INFER_ROWS, classes);
  // Validation after each epoch: the engine's evaluate (loss, accuracy, argmax; no scores kept).
  const inference = await InferenceSession.create(mlpShape(WIDTH, trainer(hiddenUnits, 1), head), head, classes, { threads });
  const evaluateStarted = cpuSeconds();
  await inference.evaluate(trained.model.weights, rows);
  const cpuSecondsPerValidationRow = (cpuSeconds() - evaluateStarted) / INFER_ROWS;
  await inference.release();
  // The test split: the trained model's predict, which keeps every class's score of every row.
  const started = performance.now();
  const cpuBefore = cpuSeconds();
  await trained.model.predict(rows.features);
  const secondsPerRow = (performance.now() - started) / 1000 / INFER_ROWS;
  const cpuSecondsPerRow = (cpuSeconds() - cpuBefore) / INFER_ROWS;
  trained.model.dispose();
  const peakWithInferenceBytes = process.resourceUsage().maxRSS * 1024;
  // The engine's own count of the state it holds, from a session of the same shape (after the peak was read).
  const shape = mlpShape(WIDTH, trainer(hiddenUnits, 1), head);
  const session = await TrainingSession.create({
    shape,
    head,
    learningRate: 1e-3,
    dropout: 0.3,
    weights: initialMlpWeights(shape, createRng(2)),
    session: { threads },
    batchSize: BATCH,
  });
  const stateBytes = session.stateBytes;
  await session.release();
  const others = withOthers ? await otherHeads({ classes, hiddenUnits, threads, quick: fewer }) : [];
  return {
    secondsPerStep,
    cpuSecondsPerStep,
    secondsPerRow,
    cpuSecondsPerRow,
    cpuSecondsPerValidationRow,
    peakTrainingBytes,
    peakWithInferenceBytes,
    stateBytes,
    others,
  };
}

/** Mean epochs of the c1000 softmax runs in a results file, or undefined. */
function recordedEpochs(url, dataset, model) {
  if (!existsSync(url)) return undefined;
  const epochs = readFileSync(url, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .filter((r) => r.dataset === dataset && r.model === model && typeof r.epochs === 'number')
    .map((r) => r.epochs);
  return epochs.length ? { epochs: epochs.reduce((a, b) => a + b, 0) / epochs.length, runs: epochs.length } : undefined;
}

function softmaxEpochs() {
  const given = flag('epochs') === undefined ? undefined : positiveNumber('epochs', flag('epochs'));
  if (given !== undefined) return { epochs: given, source: '--epochs' };
  const study = recordedEpochs(STUDY_RESULTS, 'c1000', 'softmax');
  if (study) return { ...study, source: `docs/results/many-classes, c1000/softmax (${study.runs} runs)` };
  const collapse = recordedEpochs(COLLAPSE_RESULTS, 'c1000-n20', 'softmax-h300-es');
  if (collapse) return { ...collapse, source: `docs/results/collapse, c1000-n20/softmax-h300-es (${collapse.runs} runs)` };
  console.error('no recorded softmax epochs at 1,000 classes: pass --epochs=N');
  process.exit(2);
}

/** The preset's sizes for one class count: train and validation rows, test rows, the softmax model's hidden width. */
function studySizes(preset, classes) {
  const dataset = preset.datasets.find((d) => d.options.classes === classes);
  if (!dataset) throw new Error(`the many-classes preset has no dataset of ${classes} classes`);
  const o = dataset.options;
  const softmax = preset.models.find((m) => m.id === 'softmax');
  return {
    id: dataset.id,
    trainRows: classes * o.trainPerClass,
    validationRows: o.validationRows ?? classes * (o.validationPerClass ?? 100),
    testRows: classes * (o.testPerClass ?? 200),
    hiddenUnits: { ...preset.trainer, ...softmax?.trainer }.hiddenUnits ?? 300,
  };
}

const duration = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

async function main() {
  if (answerAsChild(measure)) return;
  const threads = positiveNumber('threads', flag('threads'), { fallback: 1 });
  const classCounts = (flag('classes') ?? '10000,100000').split(',').map((c) => positiveNumber('classes', c));
  const preset = JSON.parse(readFileSync(PRESET, 'utf8'));
  const epochs = softmaxEpochs();
  console.log(machineLine(threads, 'times'));
  console.log(`full softmax, MLP ${WIDTH}-h-h-C, dropout 0.3, Adam, batch ${BATCH}; sizes from ${fileURLToPath(PRESET)}`);
  console.log(`epochs per run: ${epochs.epochs.toFixed(1)} (softmax at 1,000 classes: ${epochs.source})\n`);
  for (const classes of classCounts) {
    const sizes = studySizes(preset, classes);
    const steps = quick ? 3 : classes >= 100_000 ? 6 : 16;
    const measured = await runInChild(import.meta.url, {
      classes,
      hiddenUnits: sizes.hiddenUnits,
      steps,
      threads,
      others: !noOthers,
      quick,
    });
    console.log(`C = ${classes.toLocaleString('en-US')} (${sizes.id}), hidden ${sizes.hiddenUnits}:`);
    if (measured.error) {
      console.log(`  failed: ${measured.error}\n`);
      process.exitCode = 1;
      continue;
    }
    // One thread: CPU time is the time on an idle core. Several: their CPU times add up, so wall time it is.
    const step = threads === 1 ? measured.cpuSecondsPerStep : measured.secondsPerStep;
    const row = threads === 1 ? measured.cpuSecondsPerRow : measured.secondsPerRow;
    const basis = threads === 1 ? 'CPU time (one thread: the time on an idle core)' : 'wall time';
    const stepsPerEpoch = Math.ceil(sizes.trainRows / BATCH);
    const trainSeconds = stepsPerEpoch * step;
    const validationSeconds = sizes.validationRows * measured.cpuSecondsPerValidationRow;
    const epochSeconds = trainSeconds + validationSeconds;
    const testSeconds = sizes.testRows * row;
    const runSeconds = epochs.epochs * epochSeconds + testSeconds;
    console.log(
      `  measured: ${(measured.secondsPerStep * 1000).toFixed(1)} ms wall, ${(measured.cpuSecondsPerStep * 1000).toFixed(1)} ms CPU per training step (${steps} steps after a warm-up epoch)`,
    );
    console.log(
      `  measured: ${(measured.cpuSecondsPerValidationRow * 1e6).toFixed(1)} us CPU per row of validation (evaluate), ` +
        `${(measured.secondsPerRow * 1e6).toFixed(1)} us wall, ${(measured.cpuSecondsPerRow * 1e6).toFixed(1)} us CPU per row of test prediction (predict, every score kept; ${INFER_ROWS} rows)`,
    );
    console.log(
      `  measured: peak resident set ${mib(measured.peakTrainingBytes)} in training (state ${mib(measured.stateBytes)}: weights and Adam's two moments; the session holds two such sets), ` +
        `${mib(measured.peakWithInferenceBytes)} after inference of ${INFER_ROWS} rows (every class's score is kept)`,
    );
    console.log(
      `  PROJECTED from ${basis}: ${duration(epochSeconds)} per epoch = ${stepsPerEpoch.toLocaleString('en-US')} steps (${sizes.trainRows.toLocaleString('en-US')} rows) ` +
        `x ${(step * 1000).toFixed(1)} ms + validation of ${sizes.validationRows.toLocaleString('en-US')} rows (${duration(validationSeconds)})`,
    );
    console.log(
      `  PROJECTED: ${duration(runSeconds)} per run = ${epochs.epochs.toFixed(1)} epochs + test of ${sizes.testRows.toLocaleString('en-US')} rows (${duration(testSeconds)})`,
    );
    if (measured.others.length) {
      console.log(
        `  beside it, the study's other heads on the same shapes (1%: trained on a sampled 1% of the classes per step), CPU time; PROJECTED epoch = ${stepsPerEpoch.toLocaleString('en-US')} steps + validation of ${sizes.validationRows.toLocaleString('en-US')} rows:`,
      );
      for (const o of measured.others) {
        const epoch = stepsPerEpoch * o.cpuSecondsPerStep + sizes.validationRows * o.cpuSecondsPerRow;
        console.log(
          `    ${o.name.padEnd(17)} D = ${String(o.dims).padEnd(4)} ${(o.cpuSecondsPerStep * 1000).toFixed(1).padStart(6)} ms per step, ` +
            `${(o.cpuSecondsPerRow * 1e6).toFixed(0).padStart(5)} us per validation row: PROJECTED ${duration(epoch)} per epoch`,
        );
      }
    }
    console.log('');
  }
}

await main();
