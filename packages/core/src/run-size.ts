import { ErrorCode, HyperprotoError } from './errors.js';

/**
 * Most bytes one part of a run may take: its prototype matrix, its network's weights with Adam's two moments, or
 * one batch's activations. 8 GiB, which also keeps every float32 array of the run within the largest typed array
 * (2^32 values). A run past it is refused with its size before anything of that size is allocated.
 */
export const MAX_RUN_PART_BYTES = 8 * 2 ** 30;

/** Bytes as the size messages say them: `335.3 GiB`, `8 GiB`. */
export const gibText = (bytes: number): string => `${(bytes / 2 ** 30).toLocaleString('en-US', { maximumFractionDigits: 1 })} GiB`;

/**
 * Rows of the largest batch a run trains on: the batch size, or the whole training split where that is smaller
 * (as Keras' `fit` does). What engines allocate their per-batch buffers for.
 */
export function batchRows(batchSize: number, trainRows: number): number {
  return Math.min(batchSize, trainRows);
}

/** The options a size message names, as a flag of `hyperproto train` and as the spec field. */
export const RUN_SIZE_OPTIONS = {
  hiddenUnits: '--hidden-units (trainer.hiddenUnits)',
  batchSize: '--batch-size (trainer.batchSize)',
  dims: '--dims (prototypes.dims)',
} as const;

/**
 * What sets a run's size. Sizes not known yet (a dataset that says them only once read, a head not built yet)
 * are left out and count as 0, so that a check made without them refuses only what is too large whatever they are.
 */
export interface RunSizes {
  readonly hiddenUnits: number;
  readonly hiddenLayers: number;
  readonly inputWidth?: number;
  readonly outputUnits?: number;
  readonly classes?: number;
  /** Rows of a training batch ({@link batchRows}). */
  readonly batchRows?: number;
  /** Values of the head's own trained parameters (a learned classifier [C, D]). */
  readonly headParamValues?: number;
}

/** What a refusal names as the option setting the output layer's width and the head's parameters. */
export interface RunSizeSetters {
  readonly outputUnits: string;
  readonly headParams: string;
}

/** A part of a run's memory: the hidden layers, the output layer, the head's parameters or a batch's activations. */
export type RunPart = 'hidden' | 'output' | 'headParams' | 'batch';

/** Bytes a weight takes with Adam's two moments. */
const WEIGHT_BYTES = 3 * 4;

/**
 * Values of each part: the dense kernels of the hidden layers and of the output layer (biases and batch norm are
 * a rounding error beside them), the head's parameters, and one batch's activations (per row: the inputs, every
 * hidden unit, the output units and the class scores).
 */
function partValues(sizes: RunSizes): Record<RunPart, number> {
  const { hiddenUnits: hidden, hiddenLayers: layers } = sizes;
  const inputWidth = sizes.inputWidth ?? 0;
  const outputs = sizes.outputUnits ?? 0;
  return {
    hidden: inputWidth * hidden + (layers - 1) * hidden * hidden,
    output: hidden * outputs,
    headParams: sizes.headParamValues ?? 0,
    batch: (sizes.batchRows ?? 0) * batchRowValues(sizes),
  };
}

const batchRowValues = (sizes: RunSizes): number =>
  (sizes.inputWidth ?? 0) + sizes.hiddenLayers * sizes.hiddenUnits + (sizes.outputUnits ?? 0) + (sizes.classes ?? 0);

const partBytes = (part: RunPart, values: number): number => (part === 'batch' ? 4 : WEIGHT_BYTES) * values;

function weightBytes(sizes: RunSizes): number {
  const values = partValues(sizes);
  return WEIGHT_BYTES * (values.hidden + values.output + values.headParams);
}

const batchBytes = (sizes: RunSizes): number => partBytes('batch', partValues(sizes).batch);

/** The part of the run with the most bytes: what to shrink when memory runs out. */
export function largestRunPart(sizes: RunSizes): RunPart {
  const values = partValues(sizes);
  return (['hidden', 'output', 'headParams', 'batch'] as const).reduce((a, b) =>
    partBytes(b, values[b]) > partBytes(a, values[a]) ? b : a,
  );
}

/**
 * Refuses (E_INVALID_OPTIONS) a run whose network's weights with Adam's two moments, or one of whose batches'
 * activations, would pass {@link MAX_RUN_PART_BYTES}, naming the option to lower and, where lowering it alone
 * suffices, the largest value that fits. Arithmetic only: run before anything of the run is allocated.
 */
export function refuseOversizedRun(sizes: RunSizes, setters: RunSizeSetters): void {
  const weights = weightBytes(sizes);
  if (weights > MAX_RUN_PART_BYTES) {
    const values = partValues(sizes);
    const { hiddenUnits: hidden, hiddenLayers: layers } = sizes;
    const cause = (['hidden', 'output', 'headParams'] as const).reduce((a, b) => (values[b] > values[a] ? b : a));
    const fits = (changed: Partial<RunSizes>) => weightBytes({ ...sizes, ...changed }) <= MAX_RUN_PART_BYTES;
    // An input width not known yet is left out, as it is from the sum.
    const kernels = [
      ...(sizes.inputWidth === undefined ? [] : [`${sizes.inputWidth} x ${hidden}`]),
      ...(layers > 1 ? [`${layers - 1} x (${hidden} x ${hidden})`] : []),
    ];
    const what =
      cause === 'hidden'
        ? {
            held: `its hidden layers are ${kernels.join(' and ')}`,
            option: RUN_SIZE_OPTIONS.hiddenUnits,
            atMost: largestFitting(hidden, (hiddenUnits) => fits({ hiddenUnits })),
          }
        : cause === 'output'
          ? {
              held: `its output layer is ${hidden} x ${sizes.outputUnits}`,
              option: setters.outputUnits,
              atMost: largestFitting(sizes.outputUnits!, (outputUnits) => fits({ outputUnits })),
            }
          : { held: `the head's own parameters hold ${values.headParams} values`, option: setters.headParams, atMost: undefined };
    throw oversized(`the network's weights with Adam's two moments would need ${gibText(weights)}`, what);
  }
  const batch = batchBytes(sizes);
  if (batch > MAX_RUN_PART_BYTES) {
    throw oversized(`one batch of ${sizes.batchRows} rows would hold ${gibText(batch)} of activations`, {
      held: `${batchRowValues(sizes)} values a row: the inputs, every hidden unit, the output units and the class scores`,
      option: RUN_SIZE_OPTIONS.batchSize,
      atMost: largestFitting(sizes.batchRows!, (rows) => batchBytes({ ...sizes, batchRows: rows }) <= MAX_RUN_PART_BYTES),
    });
  }
}

function oversized(need: string, what: { held: string; option: string; atMost: number | undefined }): HyperprotoError {
  const lower = what.atMost === undefined ? `lower ${what.option}` : `lower ${what.option} to at most ${what.atMost}`;
  return new HyperprotoError(
    ErrorCode.InvalidOptions,
    `${need}, more than the ${gibText(MAX_RUN_PART_BYTES)} a run may hold (${what.held}); ${lower}`,
  );
}

/** The largest value in [1, current) for which `fits` holds (it holds for all smaller ones), or undefined when 1 does not fit. */
function largestFitting(current: number, fits: (value: number) => boolean): number | undefined {
  if (!fits(1)) return undefined;
  let [low, high] = [1, current];
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (fits(middle)) low = middle;
    else high = middle;
  }
  return low;
}
