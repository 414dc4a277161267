import { ErrorCode, HyperprotoError, largestRunPart } from '@hyperproto/core';
import type { MlpShape } from '@hyperproto/mlp';

/** What onnxruntime and V8 say when an allocation fails (a C++ bad_alloc, an arena refusing, a typed array refused). */
const OUT_OF_MEMORY =
  /bad_alloc|out of memory|failed to allocate|allocation failed|cannot allocate memory|Invalid typed array length|Array buffer allocation/i;

/** The sizes an error message needs to tell the user what to shrink; the network's, where known. */
export interface RunSize extends Partial<Omit<MlpShape, 'outputUnits'>> {
  readonly outputUnits: number;
  /** Rows per batch (or per inference chunk). */
  readonly rows: number;
  readonly classes?: number;
}

/** Runs `work` (an onnxruntime call), turning what it throws into a HyperprotoError that says what to do. */
export async function runOrExplain<T>(what: string, size: RunSize, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw explainRunFailure(error, what, size);
  }
}

export function explainRunFailure(error: unknown, what: string, size: RunSize): HyperprotoError {
  if (error instanceof HyperprotoError) return error;
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  if (OUT_OF_MEMORY.test(message)) {
    const batches = size.rows > 0 ? ` and batches of ${size.rows} rows` : '';
    return new HyperprotoError(
      ErrorCode.TrainingFailed,
      `out of memory in ${what} with ${size.outputUnits} output units${batches} (${message})`,
      { cause: error, hint: outOfMemoryHint(size) },
    );
  }
  return new HyperprotoError(ErrorCode.TrainingFailed, `onnxruntime failed in ${what}: ${message}`, {
    cause: error,
    hint: 'Try --engine tfjs; if the error persists there too, the data or settings are the problem, otherwise please report it.',
  });
}

/** What to shrink: the part of the run that holds the most memory (core's `largestRunPart`). */
function outOfMemoryHint(size: RunSize): string {
  const smaller = size.rows > 1 ? ` (e.g. --batch-size ${Math.floor(size.rows / 2)})` : '';
  const hidden = size.hiddenUnits ?? 0;
  const part = largestRunPart({
    hiddenUnits: hidden,
    hiddenLayers: size.hiddenLayers ?? 1,
    inputWidth: size.inputWidth,
    outputUnits: size.outputUnits,
    classes: size.classes,
    batchRows: size.rows,
  });
  if (part === 'hidden') {
    const layers = size.hiddenLayers ?? 1;
    return `Use fewer hidden units (--hidden-units, now ${hidden}): the hidden layers' kernels (${size.inputWidth ?? 'inputs'} x ${hidden}${layers > 1 ? `, then ${hidden} x ${hidden}` : ''}) and Adam's moments grow with it.`;
  }
  if (part === 'output' || part === 'headParams') {
    return `Use fewer output units (an HPN with smaller --dims): the output layer's ${hidden} x ${size.outputUnits} kernel and Adam's moments grow with them. A smaller batch${smaller} also helps.`;
  }
  return `Use a smaller batch${smaller}: the output layer's activations and gradients grow with batch x classes. Fewer output units (an HPN with smaller --dims) also help.`;
}
