import { ErrorCode, HyperprotoError } from './errors.js';
import { foldHeadExpr, type HeadDefinition } from './head-graph.js';
import type { NamedWeight } from './plugins.js';
import type { Rng } from './rng.js';

/**
 * How a parameter's starting values are drawn: `glorotUniform` (a matrix [fan out, fan in], uniform in
 * +-sqrt(6 / (fan in + fan out)), as the network's kernels) or `zeros`.
 */
export type HeadParamInit = 'glorotUniform' | 'zeros';
export const HEAD_PARAM_INITS: readonly HeadParamInit[] = ['glorotUniform', 'zeros'];

/** A tensor parameter's start: its shape, and one value for every element or how the values are drawn. */
export type HeadParamStart = { readonly shape: readonly number[] } & (
  | { readonly value: number; readonly init?: never }
  | { readonly init: HeadParamInit; readonly value?: never }
);

/** Parameter values by name, row-major float32. */
export type HeadParamValues = Readonly<Record<string, Float32Array>>;

/** One trainable parameter of a head, checked: its name, its shape ([] for a scalar) and where it starts. */
export interface HeadParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Every element starts at this value; absent when `init` draws the start. */
  readonly value?: number;
  readonly init?: HeadParamInit;
}

/** A value given for a parameter: a number for a scalar, or its values row-major. */
export type HeadParamGiven = number | ArrayLike<number>;

/**
 * Where a head's parameters sit among the weights an engine trains, snapshots and hands back, among a saved
 * model's weights and among an ONNX graph's initializers: `head/param/<name>`, in the parameter's own shape.
 */
export const HEAD_PARAM_WEIGHT_PREFIX = 'head/param/';

export const headParamSize = (spec: Pick<HeadParamSpec, 'shape'>): number => spec.shape.reduce((a, b) => a * b, 1);

const showShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function invalid(message: string, hint?: string): HyperprotoError {
  return new HyperprotoError(ErrorCode.InvalidInput, message, hint ? { hint } : {});
}

/**
 * The checked description of one `param` node: a name, a shape of positive integers (absent: a scalar) and exactly
 * one start, a finite `value` or a known `init` (Glorot-uniform needs a matrix). Refused naming the parameter.
 */
export function headParamSpec(node: unknown): HeadParamSpec {
  const { name, shape = [], value, init } = node as { name?: unknown; shape?: unknown; value?: unknown; init?: unknown };
  if (typeof name !== 'string' || name === '') {
    throw invalid(`a head parameter has no name (${JSON.stringify(node)})`, "Name every parameter: h.param('scale', 16).");
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw invalid(
      `head parameter "${name}" has the shape ${JSON.stringify(shape)}, which is not a list of positive integers`,
      `Give its dimensions: h.param('${name}', { shape: [rows, cols], init: 'glorotUniform' }).`,
    );
  }
  if (value === undefined && init === undefined) {
    throw invalid(
      `head parameter "${name}" has no initial value`,
      `Give the value training starts from, h.param('${name}', <number>), or how to draw it, h.param('${name}', { shape, init: 'glorotUniform' }).`,
    );
  }
  if (value !== undefined && init !== undefined) {
    throw invalid(`head parameter "${name}" has both a value (${String(value)}) and an init (${String(init)})`, 'Give one of them.');
  }
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
    throw invalid(
      `head parameter "${name}" has the initial value ${String(value)}, which is not a finite number`,
      `Give the value training starts from: h.param('${name}', <number>).`,
    );
  }
  if (init !== undefined && !HEAD_PARAM_INITS.includes(init as HeadParamInit)) {
    throw invalid(`head parameter "${name}" has the init ${JSON.stringify(init)}; known: ${HEAD_PARAM_INITS.join(', ')}`);
  }
  if (init === 'glorotUniform' && shape.length !== 2) {
    throw invalid(
      `head parameter "${name}" draws glorotUniform values, which need a matrix shape [fan out, fan in]; it has the shape ${showShape(shape)}`,
    );
  }
  return { name, shape: [...shape], ...(value !== undefined ? { value: value as number } : { init: init as HeadParamInit }) };
}

function describeStart(spec: HeadParamSpec): string {
  const start = spec.value !== undefined ? `at ${spec.value}` : `from ${spec.init}`;
  return spec.shape.length ? `${start} with shape ${showShape(spec.shape)}` : start;
}

/**
 * The trainable parameters of a head (its loss and scores together), in the order first met. A parameter without
 * a name, without a start, with an unusable shape or start, or named twice with different shapes or starts is
 * refused, naming it: a head whose parameters cannot start is refused when it is built.
 */
export function headParams(head: Pick<HeadDefinition, 'loss' | 'scores'>): Map<string, HeadParamSpec> {
  const params = new Map<string, HeadParamSpec>();
  for (const expr of [head.loss, head.scores]) {
    foldHeadExpr(expr, (node) => {
      if (node.op !== 'param') return;
      const spec = headParamSpec(node);
      const earlier = params.get(spec.name);
      if (earlier && describeStart(earlier) !== describeStart(spec)) {
        throw invalid(
          `head parameter "${spec.name}" starts ${describeStart(earlier)} in one place and ${describeStart(spec)} in another; a name is one parameter`,
          'Use one h.param(...) object, or the same start, wherever the parameter appears.',
        );
      }
      params.set(spec.name, spec);
    });
  }
  return params;
}

/**
 * A parameter's values: those `given` (checked: one finite number per element), else its fixed start (`value`
 * or zeros). A parameter whose start is drawn (glorotUniform) has no values until trained or bound: refused.
 */
export function headParamData(spec: HeadParamSpec, given?: HeadParamGiven): Float32Array {
  const values = headParamValuesOf(spec, given);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** {@link headParamData} without the conversion to float32: the float64 reference keeps given values exact. */
export function headParamValuesOf(spec: HeadParamSpec, given?: HeadParamGiven): ArrayLike<number> {
  const size = headParamSize(spec);
  if (given === undefined) {
    // In float64: the reference reads a start exactly; engines round it to float32 as they round every weight.
    if (spec.value !== undefined) return new Float64Array(size).fill(spec.value);
    if (spec.init === 'zeros') return new Float32Array(size);
    throw invalid(
      `head parameter "${spec.name}" starts from ${spec.init} values drawn when training starts, and no values were given`,
      'Train the head, or give its values (bindHeadParams; a saved model carries them as head/param/<name>).',
    );
  }
  if (typeof given === 'number') {
    if (!Number.isFinite(given)) throw invalid(`head parameter "${spec.name}" was given ${given}`);
    if (size !== 1) throw invalid(`head parameter "${spec.name}" of shape ${showShape(spec.shape)} was given one number`);
    return [given];
  }
  if (given.length !== size) {
    throw invalid(`head parameter "${spec.name}" of shape ${showShape(spec.shape)} was given ${given.length} values, expected ${size}`);
  }
  for (let i = 0; i < given.length; i++) {
    if (!Number.isFinite(given[i])) throw invalid(`head parameter "${spec.name}" was given ${given[i]} at index ${i}`);
  }
  return given;
}

/**
 * The head with its parameters at `values` (e.g. the trained ones) in `params`: what a trained model carries, so
 * that inference and export read each parameter as the values it was trained to. Parameters not in `values` keep
 * what the head had; a name the head does not have is refused. The expressions are not touched.
 */
export function bindHeadParams(head: HeadDefinition, values: Readonly<Record<string, HeadParamGiven>>): HeadDefinition {
  const known = headParams(head);
  const bound: Record<string, Float32Array> = { ...head.params };
  for (const [name, given] of Object.entries(values)) {
    const spec = known.get(name);
    if (!spec) throw invalid(`the head has no parameter "${name}" (has: ${known.size ? [...known.keys()].join(', ') : 'none'})`);
    bound[name] = headParamData(spec, given);
  }
  return { ...head, params: bound };
}

/** The head's parameters as named weights `head/param/<name>`: at `values` where given, else as the head has them. */
export function headParamWeights(
  head: Pick<HeadDefinition, 'loss' | 'scores' | 'params'>,
  values: Readonly<Record<string, HeadParamGiven>> = {},
): NamedWeight[] {
  return [...headParams(head).values()].map((spec) => ({
    name: `${HEAD_PARAM_WEIGHT_PREFIX}${spec.name}`,
    shape: spec.shape,
    data: headParamData(spec, Object.hasOwn(values, spec.name) ? values[spec.name] : head.params?.[spec.name]),
  }));
}

/**
 * The head with every parameter bound to the values training starts from: its own where it has them (bound),
 * else drawn from `rng` (glorotUniform, in the order the parameters are met) or filled (`value`, zeros). Every
 * engine starts from these, drawn from the run's 'head-params' stream, so the same seed starts them alike.
 */
export function startHeadParams(head: HeadDefinition, rng: Rng): HeadDefinition {
  const start: Record<string, Float32Array> = {};
  for (const spec of headParams(head).values()) {
    const bound = head.params?.[spec.name];
    if (bound !== undefined || spec.init !== 'glorotUniform') start[spec.name] = headParamData(spec, bound);
    else {
      const data = new Float32Array(headParamSize(spec));
      const limit = Math.sqrt(6 / (spec.shape[0]! + spec.shape[1]!));
      start[spec.name] = rng.fillUniform(data, -limit, limit);
    }
  }
  return { ...head, params: start };
}

/** The parameter values among `weights` (those named `head/param/<name>`), by parameter name. */
export function headParamsFromWeights(weights: readonly NamedWeight[]): Record<string, Float32Array> {
  const values: Record<string, Float32Array> = {};
  for (const weight of weights) {
    if (weight.name.startsWith(HEAD_PARAM_WEIGHT_PREFIX)) values[weight.name.slice(HEAD_PARAM_WEIGHT_PREFIX.length)] = weight.data;
  }
  return values;
}
