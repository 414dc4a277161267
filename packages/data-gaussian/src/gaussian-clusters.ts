import { createMatrix, ErrorCode, HyperprotoError, type Dataset, type DatasetSplit, type Matrix, type Rng } from '@hyperproto/core';
import { defaultSigma, type GaussianOptions } from './gaussian-options.js';
import { nearestCentre } from './nearest-centre.js';
import { nearestCentreScan } from './nearest-centre-scan.js';

export interface GaussianDataset extends Dataset {
  /** The true class centres [classes, inputWidth], for checks and plots. */
  readonly centres: Matrix;
  readonly reference: { readonly name: 'bayes-optimal'; readonly testPredictions: Int32Array };
}

export interface GaussianProgress {
  readonly progress?: (done: number, total: number, label?: string) => void;
  readonly signal?: AbortSignal;
  /** Native threads for the Bayes-optimal reference on onnxruntime (a plugin passes `ctx.threads`); every core when absent. */
  readonly threads?: number;
}

/** Every option filled in: what the generator actually used. */
export type ResolvedGaussianOptions = Required<Omit<GaussianOptions, 'validationRows'>> & { readonly validationRows: number };

export function resolveGaussianOptions(options: GaussianOptions): ResolvedGaussianOptions {
  return {
    ...options,
    sigma: options.sigma ?? defaultSigma(options.classes),
    validationRows: options.validationRows ?? options.classes * options.validationPerClass,
  };
}

/**
 * Multiply-adds (test rows x classes x width) from which the Bayes-optimal reference runs on onnxruntime: below it the
 * plain loop takes under a second, about what starting an onnxruntime session costs; above it the scan is tens of times faster.
 * Both give the same predictions.
 */
export const REFERENCE_SCAN_FROM = 1e9;

/** Class centres uniform in [-1, 1]^width, one row per class. */
export function drawCentres(rng: Rng, classes: number, inputWidth: number): Matrix {
  return fillCentres(rng, allocateCentres(classes, inputWidth));
}

function fillCentres(rng: Rng, centres: Matrix): Matrix {
  rng.fillUniform(centres.data, -1, 1);
  return centres;
}

function allocateCentres(classes: number, inputWidth: number): Matrix {
  const data = allocateFloats(classes, inputWidth, 'the class centres', 'lower the number of classes or the input width');
  return createMatrix(classes, inputWidth, data);
}

/**
 * `perClass` rows for every class drawn from N(centre, sigma^2 I). Rows are interleaved (row i has label
 * i % classes), so the split is balanced in every prefix and needs no shuffle.
 */
export function drawSplit(rng: Rng, centres: Matrix, sigma: number, perClass: number, onRows?: (done: number) => void): DatasetSplit {
  const split = allocateSplit(centres, centres.rows * perClass);
  for (let row = 0; row < split.labels.length; row += ROWS_PER_CHUNK) {
    fillRows(rng, centres, sigma, split, row, Math.min(split.labels.length, row + ROWS_PER_CHUNK));
    onRows?.(Math.min(split.labels.length, row + ROWS_PER_CHUNK));
  }
  return split;
}

const ROWS_PER_CHUNK = 4096;
// A long synchronous loop would hold off Ctrl-C: the event loop gets a turn at least this often.
const YIELD_EVERY_MS = 50;

function allocateSplit(centres: Matrix, rows: number): DatasetSplit {
  const width = centres.cols;
  const what = 'a split';
  const remedy = 'lower the per-class size (or validationRows) or the input width';
  const data = allocateFloats(rows, width, what, remedy);
  const labels = allocate(rows, width, what, remedy, () => new Int32Array(rows));
  return { features: createMatrix(rows, width, data), labels };
}

/**
 * A zeroed [rows, width] float32 matrix's storage, or E_INVALID_OPTIONS naming `what`, its size and `remedy` when it
 * cannot be allocated (longer than a typed array may be, or more memory than there is). The one refusal for every
 * matrix of the generator.
 */
function allocateFloats(rows: number, width: number, what: string, remedy: string): Float32Array {
  return allocate(rows, width, what, remedy, () => new Float32Array(rows * width));
}

function allocate<T>(rows: number, width: number, what: string, remedy: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `${what} of ${rows} rows x ${width} columns (${((rows * width * 4) / 2 ** 30).toFixed(1)} GiB) cannot be allocated; ${remedy}`,
      { cause: error },
    );
  }
}

/** Rows [from, to) of a split, drawn in order from `rng`: drawing in chunks gives the same numbers as in one go. */
function fillRows(rng: Rng, centres: Matrix, sigma: number, { features, labels }: DatasetSplit, from: number, to: number): void {
  const classes = centres.rows;
  const width = centres.cols;
  const centreData = centres.data;
  const data = features.data;
  for (let row = from; row < to; row++) {
    const label = row % classes;
    labels[row] = label;
    const out = row * width;
    const centre = label * width;
    for (let k = 0; k < width; k++) data[out + k] = centreData[centre + k]! + sigma * rng.normal();
  }
}

/** Gives the event loop a turn when the last one was long enough ago, then checks for an interrupt. */
function pacer(signal: AbortSignal | undefined, stage: () => string) {
  let last = performance.now();
  return async () => {
    if (performance.now() - last >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      last = performance.now();
    }
    throwIfAborted(signal, stage());
  };
}

/**
 * The seed's synthetic data: one Gaussian cluster per class with centres uniform in [-1, 1]^inputWidth and
 * isotropic noise sigma, plus the Bayes-optimal (nearest true centre) predictions on the test split.
 *
 * Centres and each split draw from their own fork of `rng`, so changing one split's size leaves the centres and
 * the other splits unchanged.
 */
export async function generateGaussianDataset(rng: Rng, options: GaussianOptions, hooks: GaussianProgress = {}): Promise<GaussianDataset> {
  const { classes, inputWidth, sigma, trainPerClass, validationPerClass, validationRows, testPerClass } = resolveGaussianOptions(options);
  // Every matrix is allocated (zeroed, so the memory is not yet touched) before any is drawn: a size that cannot be
  // allocated is refused before any data is generated.
  const centres = allocateCentres(classes, inputWidth);
  const trainSplit = allocateSplit(centres, classes * trainPerClass);
  const validationSplit = allocateSplit(centres, validationRows);
  const testSplit = allocateSplit(centres, classes * testPerClass);
  fillCentres(rng.fork('centres'), centres);

  // Progress counts rows generated plus centres compared for the reference: roughly proportional to the work.
  const totalRows = classes * (trainPerClass + testPerClass) + validationRows;
  const total = totalRows + classes;
  let done = 0;
  let stage = 'train';
  const pause = pacer(hooks.signal, () => stage);
  const split = async (name: 'train' | 'validation' | 'test', result: DatasetSplit): Promise<DatasetSplit> => {
    stage = name;
    throwIfAborted(hooks.signal, name);
    const streams = rng.fork(name);
    for (let row = 0; row < result.labels.length; row += ROWS_PER_CHUNK) {
      const end = Math.min(result.labels.length, row + ROWS_PER_CHUNK);
      fillRows(streams, centres, sigma, result, row, end);
      hooks.progress?.(done + end, total, `${name} split`);
      await pause();
    }
    done += result.labels.length;
    return result;
  };
  const train = await split('train', trainSplit);
  const validation = await split('validation', validationSplit);
  const test = await split('test', testSplit);

  stage = 'bayes-optimal reference for the test';
  const testPredictions = await bayesOptimalPredictions(test.features, centres, {
    ...hooks,
    progress: (done, rows) => hooks.progress?.(totalRows + Math.round((classes * done) / rows), total, 'bayes-optimal reference'),
    pause,
  });

  return {
    classes,
    inputWidth,
    train,
    validation,
    test,
    centres,
    reference: { name: 'bayes-optimal', testPredictions },
    info: {
      generator: 'gaussian',
      sigma,
      sigmaSource: options.sigma === undefined ? 'seed table 1' : 'options',
      perClass: {
        train: trainPerClass,
        validation: options.validationRows === undefined ? validationPerClass : validationRows / classes,
        test: testPerClass,
      },
      rows: { train: train.labels.length, validation: validation.labels.length, test: test.labels.length },
    },
  };
}

/**
 * The nearest true centre of every row (the Bayes-optimal rule for these data): on onnxruntime when the work is large
 * (see {@link REFERENCE_SCAN_FROM}), else by the plain loop in slices of rows (each row's nearest centre is
 * independent), so that Ctrl-C is seen between slices. Both give the same predictions.
 */
export async function bayesOptimalPredictions(
  features: Matrix,
  centres: Matrix,
  hooks: GaussianProgress & { readonly pause?: () => Promise<void> } = {},
): Promise<Int32Array> {
  const rows = features.rows;
  const width = features.cols;
  if (rows * centres.rows * width >= REFERENCE_SCAN_FROM) {
    return nearestCentreScan(features, centres, { threads: hooks.threads, signal: hooks.signal, progress: hooks.progress });
  }
  const predictions = new Int32Array(rows);
  const rowsPerSlice = Math.max(4, Math.floor(2e7 / (centres.rows * width)));
  for (let row = 0; row < rows; row += rowsPerSlice) {
    const end = Math.min(rows, row + rowsPerSlice);
    const slice = createMatrix(end - row, width, features.data.subarray(row * width, end * width));
    predictions.set(nearestCentre(slice, centres), row);
    hooks.progress?.(end, rows);
    await hooks.pause?.();
    if (hooks.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted while computing the bayes-optimal reference');
  }
  return predictions;
}

function throwIfAborted(signal: AbortSignal | undefined, stage: string): void {
  if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, `interrupted while generating the ${stage} split`);
}
