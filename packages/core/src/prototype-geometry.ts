import { ErrorCode, HyperprotoError } from './errors.js';
import { firstNonFinite, type Matrix } from './matrix.js';
import { symmetricEigenvalueSteps } from './prototype-geometry-eigen.js';
import { columnGramSteps, nearestCosineSteps, nearestCosinesFromRowGram, rowGramSteps } from './prototype-geometry-gram.js';
import { finishSteps, finishStepsCooperatively, type Steps } from './prototype-geometry-steps.js';

/**
 * The shape of a set of C prototypes in D dimensions: how close the nearest neighbours sit and how evenly the rows
 * span their space. What every experiment record (`prototypeGeometry`), `train`'s metrics.json and
 * `prototypes inspect` report. A measure that was not computed is null, and `notes` says why.
 */
export interface PrototypeGeometry {
  readonly classes: number;
  readonly dims: number;
  /** Largest cosine between a prototype and its nearest other prototype: the largest cosine over all pairs. */
  readonly largestNearestCosine: number | null;
  /** Mean over prototypes of the cosine to the nearest other prototype. */
  readonly meanNearestCosine: number | null;
  /** The largest of the C x D matrix's min(C, D) singular values. */
  readonly largestSingularValue: number | null;
  /** The smallest of them; 0 when the rows span fewer than min(C, D) dimensions (see {@link singularValues}). */
  readonly smallestSingularValue: number | null;
  /** exp of the Shannon entropy of s_i / sum(s) (Roy & Vetterli 2007): 1 for rank one, min(C, D) when all are equal. */
  readonly effectiveRank: number | null;
  /** Largest / smallest singular value; null when the smallest is 0 (infinite: see `notes`) or the spectrum was skipped. */
  readonly condition: number | null;
  /** Why a measure is null, one sentence each; empty when every measure is there. */
  readonly notes: readonly string[];
}

/** The nearest-neighbour measures, however the per-row nearest cosines were found. */
export interface NearestNeighbourCosines {
  readonly largest: number;
  readonly mean: number;
}

export interface GeometryOptions {
  /** Nearest-neighbour measures from another exact scan (e.g. on onnxruntime); computed here when absent. */
  readonly nearest?: NearestNeighbourCosines;
  /** Most multiply-adds each part (spectrum, neighbour scan) may take; a larger part is skipped with a note. */
  readonly workLimit?: number;
  /** Names the matrix in error messages. */
  readonly source?: string;
}

/**
 * Multiply-adds one part of the geometry may take by default: under a minute of JavaScript on one core (about 1.7e9
 * a second, `pnpm bench geometry`). Measured in CPU seconds: 1,000 x 1,000 prototypes 0.7, 2,000 x 2,000 5, 10,000 x
 * 100 3, 10,000 x 1,000 32 (its neighbour scan is 5e10); the scan over 100,000 prototypes (5e11) is skipped.
 */
export const GEOMETRY_WORK_LIMIT = 1e11;

/**
 * Nearest-neighbour cosines and the singular-value measures of a prototype matrix, exactly, in float64. The
 * singular values come from the smaller Gram matrix (P^T P when C >= D, else P P^T) by a symmetric eigen-solver;
 * when C <= D that Gram matrix holds every pairwise cosine too, so the neighbour scan costs nothing more. Runs to
 * the end at once: {@link prototypeGeometryAsync} is the same work with the event loop served and an abort heard.
 */
export function prototypeGeometry(prototypes: Matrix, options: GeometryOptions = {}): PrototypeGeometry {
  return finishSteps(geometrySteps(prototypes, options));
}

/** {@link prototypeGeometry}, giving the event loop a turn every few milliseconds; E_ABORTED once `signal` is aborted. */
export function prototypeGeometryAsync(
  prototypes: Matrix,
  options: GeometryOptions & { readonly signal?: AbortSignal } = {},
): Promise<PrototypeGeometry> {
  return finishStepsCooperatively(geometrySteps(prototypes, options), options.signal);
}

function* geometrySteps(prototypes: Matrix, options: GeometryOptions): Steps<PrototypeGeometry> {
  const { rows: classes, cols: dims } = prototypes;
  const source = options.source ?? 'prototypes';
  checkGeometryInput(prototypes, source);
  const limit = options.workLimit ?? GEOMETRY_WORK_LIMIT;
  const notes: string[] = [];
  const size = Math.min(classes, dims);
  const spectrumCost = spectrumWork(classes, dims);
  const scanCost = nearestScanWork(classes, dims);

  let nearest = options.nearest ?? null;
  let singular: Float64Array | null = null;
  if (spectrumCost <= limit) {
    const gram = yield* classes <= dims ? rowGramSteps(prototypes) : columnGramSteps(prototypes);
    // Read before the eigen-solver overwrites the Gram matrix.
    if (!nearest && classes <= dims) nearest = summarizeNearestCosines(nearestCosinesFromRowGram(gram, classes, source));
    singular = singularValuesFromEigenvalues(yield* symmetricEigenvalueSteps(gram, size));
  } else {
    notes.push(
      `singular values skipped: ${describeWork(spectrumCost, limit)} for the ${size} x ${size} Gram matrix of ${classes} x ${dims} prototypes`,
    );
  }
  if (!nearest) {
    if (scanCost <= limit) nearest = summarizeNearestCosines(yield* nearestCosineSteps(prototypes, source));
    else notes.push(`nearest-neighbour cosines skipped: ${describeWork(scanCost, limit)} to compare all pairs of ${classes} prototypes`);
  }

  const spectrum = singular ? spectrumMeasures(singular) : null;
  if (spectrum && spectrum.condition === null)
    notes.push(`condition infinite: the rows span ${spectrum.rank} of ${size} dimensions (smallest singular value 0)`);
  return {
    classes,
    dims,
    largestNearestCosine: nearest?.largest ?? null,
    meanNearestCosine: nearest?.mean ?? null,
    largestSingularValue: spectrum?.largest ?? null,
    smallestSingularValue: spectrum?.smallest ?? null,
    effectiveRank: spectrum?.effectiveRank ?? null,
    condition: spectrum?.condition ?? null,
    notes,
  };
}

/** Multiply-adds for the smaller Gram matrix and its eigenvalues (the tridiagonal reduction: 2/3 n^3). */
export function spectrumWork(classes: number, dims: number): number {
  const size = Math.min(classes, dims);
  return (Math.max(classes, dims) * size * (size + 1)) / 2 + (2 / 3) * size ** 3;
}

/** Multiply-adds to compare every pair of prototypes once. */
export function nearestScanWork(classes: number, dims: number): number {
  return ((classes * (classes - 1)) / 2) * dims;
}

function describeWork(work: number, limit: number): string {
  return `it would take ${work.toExponential(1)} multiply-adds, over the limit of ${limit.toExponential(1)}`;
}

function checkGeometryInput(prototypes: Matrix, source: string): void {
  const { rows, cols, data } = prototypes;
  if (rows < 2 || cols < 1 || data.length !== rows * cols) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source}: ${rows} x ${cols} with ${data.length} values has no geometry to measure`,
      {
        hint: 'Give at least 2 prototypes (rows) of at least 1 dimension.',
      },
    );
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source} has a non-finite value at row ${Math.floor(bad / cols)}, column ${bad % cols}`,
    );
  }
}

// ---- singular values -----------------------------------------------------------------------------------------

export interface SpectrumMeasures {
  readonly largest: number;
  readonly smallest: number;
  readonly effectiveRank: number;
  /** largest / smallest; null when the smallest is 0. */
  readonly condition: number | null;
  /** How many singular values are above 0. */
  readonly rank: number;
}

/** The measures of a list of singular values (any order, none negative). */
export function spectrumMeasures(singularValues: ArrayLike<number>): SpectrumMeasures {
  let largest = 0;
  let smallest = Number.POSITIVE_INFINITY;
  let rank = 0;
  for (let i = 0; i < singularValues.length; i++) {
    const s = singularValues[i]!;
    largest = Math.max(largest, s);
    smallest = Math.min(smallest, s);
    if (s > 0) rank++;
  }
  return { largest, smallest, effectiveRank: effectiveRank(singularValues), condition: smallest > 0 ? largest / smallest : null, rank };
}

/** exp(-sum p_i log p_i) with p_i = s_i / sum(s), zeros left out (0 log 0 = 0); 0 for an all-zero spectrum. */
export function effectiveRank(singularValues: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < singularValues.length; i++) total += singularValues[i]!;
  if (!(total > 0)) return 0;
  let entropy = 0;
  for (let i = 0; i < singularValues.length; i++) {
    const p = singularValues[i]! / total;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return Math.exp(entropy);
}

/**
 * The min(C, D) singular values of a C x D matrix, largest first, in float64: the square roots of the eigenvalues of
 * the smaller Gram matrix. Eigenvalues within n * eps of the largest are rounding and count as 0, so singular values
 * below about sqrt(n * eps) (1.5e-8 sqrt(n)) times the largest read as 0.
 */
export function singularValues(matrix: Matrix): Float64Array {
  const size = Math.min(matrix.rows, matrix.cols);
  return finishSteps(
    (function* () {
      const gram = yield* matrix.rows <= matrix.cols ? rowGramSteps(matrix) : columnGramSteps(matrix);
      return singularValuesFromEigenvalues(yield* symmetricEigenvalueSteps(gram, size));
    })(),
  );
}

function singularValuesFromEigenvalues(eigenvalues: Float64Array): Float64Array {
  let top = 0;
  for (const value of eigenvalues) top = Math.max(top, value);
  const floor = eigenvalues.length * Number.EPSILON * top;
  return eigenvalues.map((value) => (value > floor ? Math.sqrt(value) : 0)).sort((a, b) => b - a);
}

// ---- nearest neighbours --------------------------------------------------------------------------------------

/** The largest and the mean of each prototype's cosine to its nearest other prototype. */
export function summarizeNearestCosines(nearest: ArrayLike<number>): NearestNeighbourCosines {
  let largest = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < nearest.length; i++) {
    largest = Math.max(largest, nearest[i]!);
    sum += nearest[i]!;
  }
  return { largest, mean: sum / nearest.length };
}

/** Each row's cosine to its nearest other row, exactly, in float64 (rows normalised first; a zero row is an error). */
export function nearestCosines(matrix: Matrix, source = 'matrix'): Float64Array {
  return finishSteps(nearestCosineSteps(matrix, source));
}

export { symmetricEigenvalues } from './prototype-geometry-eigen.js';
