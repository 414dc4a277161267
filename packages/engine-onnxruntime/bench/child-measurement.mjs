// What the many-class benchmarks (full-softmax-cost, sampled-softmax) share: each configuration measured in a child
// process of its own (so that one's peak memory is not another's) on random data (the time of a step does not depend
// on what is learnt), their flags, the machine line they start with, and the units they print.
import { fork } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createMatrix } from '@hyperproto/core';
import * as ort from 'onnxruntime-node';

export const WIDTH = 300;
export const BATCH = 128;

/** The value of `--name=value` on the command line, or undefined. */
export const flag = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/**
 * `raw` as a positive number (a whole one unless `integer` is false, at most `max`); `fallback` when not given.
 * Anything else ends the process with exit code 2 and says what the flag takes.
 */
export function positiveNumber(name, raw, { integer = true, max = Number.POSITIVE_INFINITY, fallback } = {}) {
  if (raw === undefined && fallback !== undefined) return fallback;
  const value = Number(raw);
  if (!(value > 0 && value <= max) || (integer && !Number.isSafeInteger(value))) {
    console.error(`--${name} takes ${integer ? 'positive whole numbers' : `numbers in (0, ${max}]`}, got ${raw}`);
    process.exit(2);
  }
  return value;
}

/** The seed's trainer at batch BATCH, with `maxEpochs` epochs and no early stop. */
export const benchTrainer = (hiddenUnits, maxEpochs) => ({
  hiddenUnits,
  hiddenLayers: 2,
  dropout: 0.3,
  batchSize: BATCH,
  learningRate: 1e-3,
  patience: 1000,
  maxEpochs,
});

/** Random rows of WIDTH features and labels over `classes`. */
export function randomSplit(rng, rows, classes) {
  const features = createMatrix(rows, WIDTH);
  rng.fillNormal(features.data);
  return { features, labels: Int32Array.from({ length: rows }, () => rng.int(classes)) };
}

/** A random dataset of `trainRows` training rows, 64 validation rows and one test row. */
export function randomDataset(rng, classes, trainRows) {
  return {
    classes,
    inputWidth: WIDTH,
    train: randomSplit(rng, trainRows, classes),
    validation: randomSplit(rng, 64, classes),
    test: randomSplit(rng, 1, classes),
    info: {},
  };
}

/** Random unit rows: prototypes for the heads that use them (a step's time does not depend on their geometry). */
export function randomPrototypes(rng, classes, dims) {
  const m = createMatrix(classes, dims);
  rng.fillNormal(m.data);
  for (let c = 0; c < classes; c++) {
    const row = m.data.subarray(c * dims, (c + 1) * dims);
    const norm = Math.hypot(...row);
    for (let j = 0; j < dims; j++) row[j] /= norm;
  }
  return m;
}

/** The process's CPU seconds so far (every thread). */
export const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Runs the benchmark file `moduleUrl` as a child (`--child`) on `config`: its answer, or `{ error }`. */
export function runInChild(moduleUrl, config) {
  return new Promise((resolve) => {
    const child = fork(new URL(moduleUrl), ['--child'], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
    child.once('message', (answer) => resolve(answer));
    child.once('exit', (code) => resolve({ error: `exited with code ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` }));
    child.send(config);
  });
}

/**
 * In a child started by `runInChild`: answers its one config with `measure(config)` (or `{ error }`) and returns true;
 * in the parent, returns false.
 */
export function answerAsChild(measure) {
  if (!process.argv.includes('--child')) return false;
  process.once('message', async (config) => {
    try {
      process.send(await measure(config));
    } catch (error) {
      process.send({ error: String(error?.message ?? error).slice(0, 300) });
    }
    process.disconnect();
  });
  return true;
}

/** The line a benchmark starts with: versions, cores, threads and the load it ran under. */
export function machineLine(threads, what) {
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return (
    `onnxruntime-node ${ort.env.versions.node}, Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ` +
    `onnxruntime threads ${threads}; load average ${load} (on a shared machine, ${what} move with it)`
  );
}

export const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
