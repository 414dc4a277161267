import { ErrorCode, HyperprotoError, type Matrix } from '@hyperproto/core';
import { openComputeSession } from '@hyperproto/onnxruntime-session';
import * as ort from 'onnxruntime-node';
import { cosineTileModel, nearestStripeModel } from './scan-graphs.js';
import { exactCosine, toUnitRows } from './unit-rows.js';

export interface ScannerOptions {
  /** onnxruntime intra-op threads: the caller's budget (a plugin passes `ctx.threads`); every core when absent. */
  readonly threads?: number;
  /** Rows per side of a square tile of the all-pairs scan (default 2048: 16 MB of cosines per tile). */
  readonly tileRows?: number;
  /** Cosines per stripe of the neighbour scan (default 2^23: 32 MB). */
  readonly stripeElements?: number;
  /** Columns per group in the neighbour scan's two-stage top-k (default 64; 1 turns it off). */
  readonly neighbourGroup?: number;
}

export interface ScanControl {
  /** Stops the scan between tiles with E_ABORTED. */
  readonly signal?: AbortSignal;
  /** Tiles (or stripes) done out of the total. */
  readonly progress?: (done: number, total: number) => void;
  /** Names the matrix in error messages. */
  readonly source?: string;
}

export interface CosineHistogram {
  /** Bin b counts the pairs with cosine in [-1 + b w, -1 + (b + 1) w), w = 2 / bins; cosine 1 falls in the last. */
  readonly counts: Float64Array;
  readonly lower: -1;
  readonly upper: 1;
  /** C (C - 1) / 2: every unordered pair once. */
  readonly pairs: number;
}

export interface CosineSummary {
  readonly classes: number;
  readonly dims: number;
  /** Largest cosine over all pairs i != j: the scan's winning pair, recomputed in double precision. */
  readonly largestCosine: number;
  readonly largestPair: readonly [number, number];
  /** Largest |cosine| over all pairs (what the Welch bound limits). */
  readonly largestAbsCosine: number;
  /** Each row's cosine to its nearest other row, and that row's index. */
  readonly nearestCosine: Float32Array;
  readonly nearestIndex: Int32Array;
  readonly meanNearestCosine: number;
  /** Each row's L2 norm as given (cosines are taken between the normalised rows). */
  readonly norms: Float64Array;
  /** Present when bins were asked for. */
  readonly histogram?: CosineHistogram;
}

export interface NeighbourLists {
  readonly k: number;
  /** [C, k] row-major: row i's k nearest other rows, nearest first. */
  readonly indices: Int32Array;
  /** [C, k]: their cosines to row i. */
  readonly cosines: Float32Array;
}

/** Histogram bins come back as one byte each. */
export const MAX_HISTOGRAM_BINS = 255;

const DEFAULT_TILE_ROWS = 2048;
const DEFAULT_STRIPE_ELEMENTS = 1 << 23;
const DEFAULT_NEIGHBOUR_GROUP = 64;

/**
 * Exact scans over all pairs of rows, as cosine tiles multiplied by onnxruntime. The C x C similarity matrix is
 * never held whole: each tile is reduced inside the graph (maxima, top-k, histogram bins) and only those small
 * results reach JavaScript. One session per graph, made on first use and reused for every tile.
 */
export class SimilarityScanner {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly threads: number | undefined;
  private readonly tileRows: number;
  private readonly stripeElements: number;
  private readonly neighbourGroup: number;

  constructor(options: ScannerOptions = {}) {
    this.threads = options.threads;
    this.tileRows = options.tileRows ?? DEFAULT_TILE_ROWS;
    this.stripeElements = options.stripeElements ?? DEFAULT_STRIPE_ELEMENTS;
    this.neighbourGroup = options.neighbourGroup ?? DEFAULT_NEIGHBOUR_GROUP;
  }

  /**
   * Largest cosine, each row's nearest neighbour, largest |cosine| and, with `bins`, the histogram of all
   * C (C - 1) / 2 cosines. Tiles on and above the block diagonal only: the matrix is symmetric.
   */
  async summarize(matrix: Matrix, options: ScanControl & { bins?: number } = {}): Promise<CosineSummary> {
    const bins = options.bins ?? 0;
    if (!Number.isInteger(bins) || bins < 0 || bins > MAX_HISTOGRAM_BINS) {
      throw new HyperprotoError(ErrorCode.InvalidOptions, `histogram bins must be an integer from 1 to ${MAX_HISTOGRAM_BINS}, got ${bins}`);
    }
    const { rows, cols } = matrix;
    requireTwoRows(rows, options.source);
    const { unit, norms } = toUnitRows(matrix, options.source);
    const nearestCosine = new Float32Array(rows).fill(-Infinity);
    const nearestIndex = new Int32Array(rows).fill(-1);
    const counts = new Float64Array(bins);
    let smallest = Infinity;
    const block = Math.max(1, Math.min(this.tileRows, rows));
    const blocks = Math.ceil(rows / block);
    const total = (blocks * (blocks + 1)) / 2;
    let done = 0;
    for (let i0 = 0; i0 < rows; i0 += block) {
      for (let j0 = i0; j0 < rows; j0 += block) {
        throwIfScanAborted(options.signal, options.source);
        const diagonal = i0 === j0;
        const session = await this.session(`tile:${cols}:${diagonal}:${bins}`, () => cosineTileModel({ dims: cols, diagonal, bins }));
        const a = rowsTensor(unit, i0, Math.min(rows, i0 + block));
        const b = rowsTensor(unit, j0, Math.min(rows, j0 + block));
        const out = await session.run({ a, b });
        mergeMaxima(nearestCosine, nearestIndex, i0, out.row_max!.data as Float32Array, out.row_arg!.data as BigInt64Array, j0);
        mergeMaxima(nearestCosine, nearestIndex, j0, out.col_max!.data as Float32Array, out.col_arg!.data as BigInt64Array, i0);
        smallest = Math.min(smallest, (out.tile_min!.data as Float32Array)[0]!);
        if (bins > 0) countBins(counts, out.bin!.data as Uint8Array, a.dims[0]!, b.dims[0]!, diagonal);
        options.progress?.(++done, total);
      }
    }
    let winner = 0;
    let sumNearest = 0;
    for (let i = 0; i < rows; i++) {
      if (nearestCosine[i]! > nearestCosine[winner]!) winner = i;
      sumNearest += nearestCosine[i]!;
    }
    const partner = nearestIndex[winner]!;
    const largestCosine = exactCosine(matrix, winner, partner);
    return {
      classes: rows,
      dims: cols,
      largestCosine,
      largestPair: [Math.min(winner, partner), Math.max(winner, partner)],
      largestAbsCosine: Math.max(largestCosine, -smallest),
      nearestCosine,
      nearestIndex,
      meanNearestCosine: sumNearest / rows,
      norms,
      histogram: bins > 0 ? { counts, lower: -1, upper: 1, pairs: (rows * (rows - 1)) / 2 } : undefined,
    };
  }

  /** Each row's k nearest other rows by cosine, by stripes of rows against all rows (O(C^2 D), exact). */
  async nearestNeighbours(matrix: Matrix, k: number, options: ScanControl = {}): Promise<NeighbourLists> {
    const { rows, cols } = matrix;
    requireTwoRows(rows, options.source);
    if (!Number.isInteger(k) || k < 1 || k > rows - 1) {
      throw new HyperprotoError(
        ErrorCode.InvalidOptions,
        `neighbour lists need k from 1 to ${rows - 1} (one less than the rows), got ${k}`,
      );
    }
    const { unit } = toUnitRows(matrix, options.source);
    const keep = k + 1;
    // Two stages pay off only when the groups far outnumber the values kept.
    const group = this.neighbourGroup > 1 && Math.ceil(rows / this.neighbourGroup) >= 4 * keep ? this.neighbourGroup : 1;
    const session = await this.session(`nearest:${cols}:${keep}:${group}`, () => nearestStripeModel(cols, keep, group));
    const feeds = group > 1 ? paddedColumns(unit, group) : { b: rowsTensor(unit, 0, rows) };
    const padded = feeds.b.dims[0]!;
    const stripe = Math.max(1, Math.min(rows, Math.floor(this.stripeElements / padded)));
    const total = Math.ceil(rows / stripe);
    const indices = new Int32Array(rows * k);
    const cosines = new Float32Array(rows * k);
    for (let s = 0, r0 = 0; r0 < rows; s++, r0 += stripe) {
      throwIfScanAborted(options.signal, options.source);
      const r1 = Math.min(rows, r0 + stripe);
      const out = await session.run({ ...feeds, a: rowsTensor(unit, r0, r1) });
      dropSelf(out.indices!.data as Int32Array, out.values!.data as Float32Array, r0, r1, k, indices, cosines);
      options.progress?.(s + 1, total);
    }
    return { k, indices, cosines };
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of sessions) await (await session).release();
  }

  private session(key: string, build: () => Uint8Array): Promise<ort.InferenceSession> {
    let session = this.sessions.get(key);
    if (!session) {
      session = openComputeSession(build(), { threads: this.threads });
      this.sessions.set(key, session);
    }
    return session;
  }
}

/** Runs `scan` with a fresh scanner and releases its sessions afterwards. */
export async function withScanner<T>(scan: (scanner: SimilarityScanner) => Promise<T>, options: ScannerOptions = {}): Promise<T> {
  const scanner = new SimilarityScanner(options);
  try {
    return await scan(scanner);
  } finally {
    await scanner.release();
  }
}

/** A view of rows [start, end) as a tensor: no copy, onnxruntime reads the array in place. */
function rowsTensor(matrix: Matrix, start: number, end: number): ort.Tensor {
  return new ort.Tensor('float32', matrix.data.subarray(start * matrix.cols, end * matrix.cols), [end - start, matrix.cols]);
}

/** Every row as the columns of a neighbour scan, padded with zero rows to a multiple of `group`, and the bias that rules the padding out. */
function paddedColumns(unit: Matrix, group: number): { b: ort.Tensor; bias: ort.Tensor } {
  const padded = Math.ceil(unit.rows / group) * group;
  const data = new Float32Array(padded * unit.cols);
  data.set(unit.data);
  const bias = new Float32Array(padded);
  bias.fill(-4, unit.rows);
  return { b: new ort.Tensor('float32', data, [padded, unit.cols]), bias: new ort.Tensor('float32', bias, [padded]) };
}

function mergeMaxima(
  best: Float32Array,
  bestIndex: Int32Array,
  offset: number,
  maxima: Float32Array,
  positions: BigInt64Array,
  otherOffset: number,
): void {
  for (let r = 0; r < maxima.length; r++) {
    if (maxima[r]! > best[offset + r]!) {
      best[offset + r] = maxima[r]!;
      bestIndex[offset + r] = otherOffset + Number(positions[r]!);
    }
  }
}

/** On a diagonal tile only the pairs above the diagonal count: each unordered pair once, never a row with itself. */
function countBins(counts: Float64Array, bins: Uint8Array, tileRows: number, tileCols: number, diagonal: boolean): void {
  for (let r = 0; r < tileRows; r++) {
    const rowStart = r * tileCols;
    for (let c = diagonal ? r + 1 : 0; c < tileCols; c++) counts[bins[rowStart + c]!]!++;
  }
}

/** Copies each row's k best of k + 1, leaving out the row itself (or the last, when a duplicate displaced it). */
function dropSelf(
  found: Int32Array,
  values: Float32Array,
  r0: number,
  r1: number,
  k: number,
  indices: Int32Array,
  cosines: Float32Array,
): void {
  const keep = k + 1;
  for (let row = r0; row < r1; row++) {
    const from = (row - r0) * keep;
    let to = row * k;
    const end = to + k;
    for (let m = 0; m < keep && to < end; m++) {
      if (found[from + m] === row) continue;
      indices[to] = found[from + m]!;
      cosines[to++] = values[from + m]!;
    }
  }
}

function requireTwoRows(rows: number, source = 'prototypes'): void {
  if (rows < 2) {
    throw new HyperprotoError(
      ErrorCode.InvalidInput,
      `${source} holds ${rows} row${rows === 1 ? '' : 's'}; at least 2 are needed to compare`,
    );
  }
}

function throwIfScanAborted(signal: AbortSignal | undefined, source = 'prototypes'): void {
  if (signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, `scan of ${source} interrupted`);
}
