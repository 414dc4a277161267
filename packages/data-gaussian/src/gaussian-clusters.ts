import { createMatrix, ErrorCode, HyperprotoError, type Dataset, type DatasetSplit, type Matrix, type Rng } from '@hyperproto/core';
import { defaultSigma, type GaussianOptions } from './gaussian-options.js';
import { nearestCentre } from './nearest-centre.js';

export interface GaussianDataset extends Dataset {
  /** The true class centres [classes, inputWidth], for checks and plots. */
  readonly centres: Matrix;
  readonly reference: { readonly name: 'bayes-optimal'; readonly testPredictions: Int32Array };
}

export interface GaussianProgress {
  readonly progress?: (done: number, total: number, label?: string) => void;
  readonly signal?: AbortSignal;
}

/** Every option filled in: what the generator actually used. */
export type ResolvedGaussianOptions = Required<GaussianOptions>;

export function resolveGaussianOptions(options: GaussianOptions): ResolvedGaussianOptions {
  return { ...options, sigma: options.sigma ?? defaultSigma(options.classes) };
}

/** Class centres uniform in [-1, 1]^width, one row per class. */
export function drawCentres(rng: Rng, classes: number, inputWidth: number): Matrix {
  return createMatrix(classes, inputWidth, rng.fillUniform(new Float32Array(classes * inputWidth), -1, 1));
}

/**
 * `perClass` rows for every class drawn from N(centre, sigma^2 I). Rows are interleaved (row i has label
 * i % classes), so the split is balanced in every prefix and needs no shuffle.
 */
export function drawSplit(rng: Rng, centres: Matrix, sigma: number, perClass: number, onRows?: (done: number) => void): DatasetSplit {
  const classes = centres.rows;
  const width = centres.cols;
  const rows = classes * perClass;
  let data: Float32Array;
  try {
    data = new Float32Array(rows * width);
  } catch (error) {
    throw new HyperprotoError(
      ErrorCode.InvalidOptions,
      `a split of ${rows} rows x ${width} columns (${((rows * width * 4) / 2 ** 30).toFixed(1)} GiB) cannot be allocated; lower the per-class size or the input width`,
      { cause: error },
    );
  }
  const labels = new Int32Array(rows);
  const centreData = centres.data;
  for (let row = 0; row < rows; row++) {
    const label = row % classes;
    labels[row] = label;
    const out = row * width;
    const centre = label * width;
    for (let k = 0; k < width; k++) data[out + k] = centreData[centre + k]! + sigma * rng.normal();
    if (onRows && (row + 1) % 4096 === 0) onRows(row + 1);
  }
  return { features: createMatrix(rows, width, data), labels };
}

/**
 * The seed's synthetic data: one Gaussian cluster per class with centres uniform in [-1, 1]^inputWidth and
 * isotropic noise sigma, plus the Bayes-optimal (nearest true centre) predictions on the test split.
 *
 * Centres and each split draw from their own fork of `rng`, so changing one split's size leaves the centres and
 * the other splits unchanged.
 */
export function generateGaussianDataset(rng: Rng, options: GaussianOptions, hooks: GaussianProgress = {}): GaussianDataset {
  const { classes, inputWidth, sigma, trainPerClass, validationPerClass, testPerClass } = resolveGaussianOptions(options);
  const centres = drawCentres(rng.fork('centres'), classes, inputWidth);

  // Progress counts rows generated plus centres compared for the reference: roughly proportional to the work.
  const totalRows = classes * (trainPerClass + validationPerClass + testPerClass);
  const total = totalRows + classes;
  let done = 0;
  const split = (name: 'train' | 'validation' | 'test', perClass: number): DatasetSplit => {
    throwIfAborted(hooks.signal, name);
    const before = done;
    const result = drawSplit(rng.fork(name), centres, sigma, perClass, (rows) => {
      throwIfAborted(hooks.signal, name);
      hooks.progress?.(before + rows, total, `${name} split`);
    });
    done = before + result.labels.length;
    hooks.progress?.(done, total, `${name} split`);
    return result;
  };
  const train = split('train', trainPerClass);
  const validation = split('validation', validationPerClass);
  const test = split('test', testPerClass);

  const testPredictions = nearestCentre(test.features, centres, {
    signal: hooks.signal,
    progress: (centresDone) => hooks.progress?.(totalRows + centresDone, total, 'bayes-optimal reference'),
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
      perClass: { train: trainPerClass, validation: validationPerClass, test: testPerClass },
      rows: { train: train.labels.length, validation: validation.labels.length, test: test.labels.length },
    },
  };
}

function throwIfAborted(signal: AbortSignal | undefined, stage: string): void {
  if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, `interrupted while generating the ${stage} split`);
}
