import { ErrorCode, HyperprotoError } from './errors.js';
import { foldHeadExpr, HEAD_NORM_FLOOR, type HeadExpr, headConstant, missingConstantText } from './head-graph.js';
import { type HeadParamGiven, headParamSpec, headParamValuesOf } from './head-params.js';
import type { Matrix } from './matrix.js';

/** A dense row-major float64 array of any rank; a scalar has shape []. */
export interface HeadValue {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export interface HeadReferenceInputs {
  /** The network's output [N, U]. */
  readonly output: { readonly rows: number; readonly cols: number; readonly data: Float64Array | Float32Array };
  /** True class indices [N]; only expressions that use `labels` need them. */
  readonly labels?: Int32Array;
  /** The head's constants by name (e.g. prototypes [C, D]). */
  readonly constants?: Readonly<Record<string, Matrix>>;
  /**
   * Values of the head's parameters by name (a number for a scalar, else row-major values; e.g. a head's
   * `params`); a parameter not given is at its starting `value`.
   */
  readonly params?: Readonly<Record<string, HeadParamGiven>>;
  /**
   * A training step's class sample: the sampled classes [S] and each label's position among them [N]. Without
   * one, `sampledRows(x)` is x (every class) and `sampledLabels` the labels.
   */
  readonly sample?: { readonly classes: Int32Array; readonly labels: Int32Array };
}

/**
 * Evaluates a head expression in float64 with plain loops: the reference the engines' kernels (tfjs ops, ONNX
 * nodes) are compared against, and what conformance checks of heads run on. Broadcasting follows NumPy, as
 * TensorFlow.js and ONNX do. A sub-expression object used twice is evaluated once.
 */
export function evaluateHeadExpr(expr: HeadExpr, inputs: HeadReferenceInputs): HeadValue {
  const { output } = inputs;
  if (output.data.length !== output.rows * output.cols) {
    fail(`the output has ${output.data.length} values for ${output.rows} x ${output.cols}`);
  }
  return foldHeadExpr<HeadValue>(expr, (node, children) => evaluateOne(node, inputs, children));
}

/** One operation, given its children's values in the order of the operation table (a, b or x, indices). */
function evaluateOne(expr: HeadExpr, inputs: HeadReferenceInputs, [first, second]: HeadValue[]): HeadValue {
  switch (expr.op) {
    case 'output':
      return { shape: [inputs.output.rows, inputs.output.cols], data: Float64Array.from(inputs.output.data) };
    case 'labels':
      if (!inputs.labels) return fail('the head expression uses labels, but none were given');
      return { shape: [inputs.labels.length], data: Float64Array.from(inputs.labels) };
    case 'constant': {
      const constants = inputs.constants ?? {};
      const matrix = headConstant(constants, expr.name);
      if (!matrix) return fail(`the head expression uses ${missingConstantText(expr.name, constants)}`);
      if (matrix.data.length !== matrix.rows * matrix.cols)
        fail(`constant "${expr.name}" has ${matrix.data.length} values for ${matrix.rows} x ${matrix.cols}`);
      return { shape: [matrix.rows, matrix.cols], data: Float64Array.from(matrix.data) };
    }
    case 'scalar':
      return { shape: [], data: Float64Array.of(expr.value) };
    case 'param': {
      const spec = headParamSpec(expr);
      const given = inputs.params && Object.hasOwn(inputs.params, spec.name) ? inputs.params[spec.name] : undefined;
      return { shape: spec.shape, data: Float64Array.from(headParamValuesOf(spec, given)) };
    }
    case 'add':
      return broadcast(expr.op, first!, second!, (a, b) => a + b);
    case 'sub':
      return broadcast(expr.op, first!, second!, (a, b) => a - b);
    case 'mul':
      return broadcast(expr.op, first!, second!, (a, b) => a * b);
    case 'div':
      return broadcast(expr.op, first!, second!, (a, b) => a / b);
    case 'neg':
      return map(first!, (x) => -x);
    case 'exp':
      return map(first!, Math.exp);
    case 'log':
      return map(first!, Math.log);
    case 'pow': {
      const { exponent } = expr;
      // A square as a product, as the engines compute it (exact, and defined for negative bases).
      return map(first!, exponent === 2 ? (x) => x * x : (x) => x ** exponent);
    }
    case 'matmulTransposed':
      return matmulTransposed(first!, second!);
    case 'l2normalize':
      return alongLastAxis(expr.op, first!, (row, out) => {
        let squared = 0;
        for (const x of row) squared += x * x;
        const scale = 1 / Math.max(Math.sqrt(squared), HEAD_NORM_FLOOR);
        for (let k = 0; k < row.length; k++) out[k] = row[k]! * scale;
      });
    case 'softmax':
    case 'logSoftmax': {
      const log = expr.op === 'logSoftmax';
      return alongLastAxis(expr.op, first!, (row, out) => {
        // Shifted by the row's maximum so that large values cannot overflow exp.
        let largest = -Infinity;
        for (const x of row) largest = Math.max(largest, x);
        let sum = 0;
        for (const x of row) sum += Math.exp(x - largest);
        const logSum = largest + Math.log(sum);
        for (let k = 0; k < row.length; k++) out[k] = log ? row[k]! - logSum : Math.exp(row[k]! - logSum);
      });
    }
    case 'gatherRows': {
      const x = first!;
      const indices = second!;
      if (x.shape.length !== 2 || indices.shape.length !== 1) {
        fail(`gatherRows needs a matrix and a vector of indices, got shapes ${show(x.shape)} and ${show(indices.shape)}`);
      }
      const [rows, cols] = x.shape as [number, number];
      const data = new Float64Array(indices.data.length * cols);
      indices.data.forEach((raw, i) => {
        const row = index(expr, raw, rows);
        data.set(x.data.subarray(row * cols, (row + 1) * cols), i * cols);
      });
      return { shape: [indices.data.length, cols], data };
    }
    case 'sampledRows': {
      const x = first!;
      if (x.shape.length !== 1 && x.shape.length !== 2) fail(`sampledRows needs a matrix or a vector, got shape ${show(x.shape)}`);
      const sample = inputs.sample;
      if (!sample) return x;
      const [rows, cols = 1] = x.shape as [number, number?];
      const data = new Float64Array(sample.classes.length * cols);
      sample.classes.forEach((raw, i) => {
        if (!(Number.isInteger(raw) && raw >= 0 && raw < rows)) fail(`sampledRows: sampled class ${raw} is outside [0, ${rows})`);
        data.set(x.data.subarray(raw * cols, (raw + 1) * cols), i * cols);
      });
      return { shape: x.shape.length === 2 ? [sample.classes.length, cols] : [sample.classes.length], data };
    }
    case 'sampledLabels': {
      const labels = inputs.sample?.labels ?? inputs.labels;
      if (!labels) return fail('the head expression uses sampledLabels, but no labels were given');
      return { shape: [labels.length], data: Float64Array.from(labels) };
    }
    case 'pickPerRow': {
      const x = first!;
      const indices = second!;
      if (x.shape.length !== 2 || indices.shape.length !== 1 || indices.shape[0] !== x.shape[0]) {
        fail(`pickPerRow needs a matrix [N, K] and N indices, got shapes ${show(x.shape)} and ${show(indices.shape)}`);
      }
      const cols = x.shape[1]!;
      return { shape: [x.shape[0]!], data: indices.data.map((raw, i) => x.data[i * cols + index(expr, raw, cols)]!) };
    }
    case 'oneHot': {
      const indices = first!;
      const { depth } = expr;
      if (!Number.isInteger(depth) || depth < 1) fail(`oneHot needs a positive integer depth (the number of classes), got ${depth}`);
      if (indices.shape.length !== 1) fail(`oneHot needs a vector of indices [N], got shape ${show(indices.shape)}`);
      const data = new Float64Array(indices.data.length * depth);
      indices.data.forEach((raw, i) => {
        data[i * depth + index(expr, raw, depth)] = 1;
      });
      return { shape: [indices.data.length, depth], data };
    }
    case 'rowSum': {
      const x = first!;
      if (x.shape.length === 0) fail('rowSum of a scalar');
      const width = x.shape.at(-1)!;
      const data = new Float64Array(width === 0 ? 0 : x.data.length / width);
      for (let r = 0; r < data.length; r++) {
        let sum = 0;
        for (let k = 0; k < width; k++) sum += x.data[r * width + k]!;
        data[r] = sum;
      }
      return { shape: x.shape.slice(0, -1), data };
    }
    case 'mean': {
      const x = first!;
      let sum = 0;
      for (const value of x.data) sum += value;
      return { shape: [], data: Float64Array.of(sum / x.data.length) };
    }
    default: {
      const op = (expr as { op?: unknown }).op;
      return fail(`unknown head operation ${JSON.stringify(op)}`);
    }
  }
}

function fail(message: string): never {
  throw new HyperprotoError(ErrorCode.InvalidInput, message);
}

const show = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Engines truncate float indices toward zero; an index outside [0, size) is refused rather than read as 0 (or as
 * a row of zeros), and a label is named as one, with the class count.
 */
function index(node: Extract<HeadExpr, { indices: HeadExpr }>, raw: number, size: number): number {
  const value = Math.trunc(raw);
  if (!(value >= 0 && value < size)) {
    fail(
      node.indices.op === 'labels'
        ? `${node.op}: label ${raw} is out of range for ${size} classes (labels run from 0 to ${size - 1})`
        : `${node.op} index ${raw} is outside [0, ${size})`,
    );
  }
  return value;
}

function map(x: HeadValue, f: (value: number) => number): HeadValue {
  return { shape: x.shape, data: x.data.map(f) };
}

/** Applies `f` to every slice along the last axis (a row of a matrix; the whole of a vector). */
function alongLastAxis(op: string, x: HeadValue, f: (row: Float64Array, out: Float64Array) => void): HeadValue {
  if (x.shape.length === 0) fail(`${op} of a scalar`);
  const width = x.shape.at(-1)!;
  const data = new Float64Array(x.data.length);
  for (let start = 0; start < data.length; start += width) f(x.data.subarray(start, start + width), data.subarray(start, start + width));
  return { shape: x.shape, data };
}

function matmulTransposed(a: HeadValue, b: HeadValue): HeadValue {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[1]) {
    fail(`matmulTransposed needs matrices [N, K] and [M, K], got shapes ${show(a.shape)} and ${show(b.shape)}`);
  }
  const [n, k] = a.shape as [number, number];
  const m = b.shape[0]!;
  const data = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum += a.data[i * k + t]! * b.data[j * k + t]!;
      data[i * m + j] = sum;
    }
  }
  return { shape: [n, m], data };
}

/**
 * NumPy broadcasting: shapes are aligned at their last axes and a size 1 (or a missing axis) repeats. So a scalar
 * goes with anything and a [K] vector with every row of an [N, K] matrix, but an [N] vector against [N, K] is
 * refused unless N = K, as in TensorFlow.js and ONNX.
 */
function broadcast(op: string, a: HeadValue, b: HeadValue, f: (a: number, b: number) => number): HeadValue {
  const rank = Math.max(a.shape.length, b.shape.length);
  const padded = (shape: readonly number[]) => [...new Array<number>(rank - shape.length).fill(1), ...shape];
  const sa = padded(a.shape);
  const sb = padded(b.shape);
  const shape = sa.map((x, i) => {
    const y = sb[i]!;
    if (x !== y && x !== 1 && y !== 1) fail(`${op} of shapes ${show(a.shape)} and ${show(b.shape)}, which do not broadcast`);
    return x === 1 ? y : x;
  });
  // Strides of each operand in the output's index space; 0 along an axis it repeats.
  const strides = (s: number[]) => {
    const out = new Array<number>(rank).fill(0);
    let step = 1;
    for (let i = rank - 1; i >= 0; i--) {
      out[i] = s[i] === 1 ? 0 : step;
      step *= s[i]!;
    }
    return out;
  };
  const stridesA = strides(sa);
  const stridesB = strides(sb);
  const size = shape.reduce((p, x) => p * x, 1);
  const data = new Float64Array(size);
  for (let flat = 0; flat < size; flat++) {
    let rest = flat;
    let ia = 0;
    let ib = 0;
    for (let axis = rank - 1; axis >= 0; axis--) {
      const position = rest % shape[axis]!;
      rest = (rest - position) / shape[axis]!;
      ia += position * stridesA[axis]!;
      ib += position * stridesB[axis]!;
    }
    data[flat] = f(a.data[ia]!, b.data[ib]!);
  }
  return { shape, data };
}
