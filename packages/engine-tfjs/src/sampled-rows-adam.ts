import { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON } from '@hyperproto/mlp';
import type { NamedTensorMap, Tensor, Tensor1D, Variable } from '@tensorflow/tfjs';
import { headParamVariables, type Tf } from './evaluate-head-expr.js';

/**
 * Lazy Adam for the head parameters a sampled loss reads only through `sampledRows` (a classifier [C, D], its
 * bias [C]): each step updates only the sampled rows and their moments, by tfjs' Adam formula at the optimizer's
 * step count; every other row keeps its value and its moments until a step samples it again. The onnxruntime
 * engine updates them the same way, so both engines train a sampled head alike.
 */
export class SampledRowsAdam {
  private readonly first: Record<string, Variable>;
  private readonly second: Record<string, Variable>;
  private steps = 0;

  constructor(
    private readonly tf: Tf,
    /** The parameters, by name; updated in place (assigned). */
    private readonly params: Readonly<Record<string, Variable>>,
    private readonly learningRate: number,
  ) {
    const zeros = () =>
      Object.fromEntries(
        Object.entries(params).map(([name, param]) => {
          const start = tf.zerosLike(param);
          const variable = tf.variable(start, false);
          start.dispose();
          return [name, variable];
        }),
      );
    this.first = zeros();
    this.second = zeros();
  }

  /**
   * Each parameter's rows at `classes` as fresh variables: what the loss reads, and what its gradient is taken for
   * ([S, ...] instead of the whole parameter). The caller disposes them.
   */
  rows(classes: Tensor1D): Record<string, Variable> {
    const { tf } = this;
    return Object.fromEntries(
      Object.entries(this.params).map(([name, param]) => {
        const gathered = tf.gather(param, classes, 0);
        const variable = tf.variable(gathered, true);
        gathered.dispose();
        return [name, variable];
      }),
    );
  }

  /** One Adam step of the sampled rows, given the gradients (by variable name) of the variables `rows` made. */
  apply(classes: Tensor1D, rows: Readonly<Record<string, Variable>>, gradients: NamedTensorMap): void {
    const { tf } = this;
    this.steps++;
    const firstCorrection = 1 - ADAM_BETA1 ** this.steps;
    const secondCorrection = 1 - ADAM_BETA2 ** this.steps;
    tf.tidy(() => {
      const at = tf.expandDims(classes, 1);
      for (const [name, param] of Object.entries(this.params)) {
        const row = rows[name]!;
        const gradient = gradients[row.name] as Tensor;
        const m = tf.add(tf.mul(tf.gather(this.first[name]!, classes, 0), ADAM_BETA1), tf.mul(gradient, 1 - ADAM_BETA1));
        const v = tf.add(tf.mul(tf.gather(this.second[name]!, classes, 0), ADAM_BETA2), tf.mul(tf.square(gradient), 1 - ADAM_BETA2));
        const step = tf.div(tf.div(m, firstCorrection), tf.add(tf.sqrt(tf.div(v, secondCorrection)), ADAM_EPSILON));
        const next = tf.sub(row, tf.mul(step, this.learningRate));
        this.first[name]!.assign(tf.tensorScatterUpdate(this.first[name]!, at, m));
        this.second[name]!.assign(tf.tensorScatterUpdate(this.second[name]!, at, v));
        param.assign(tf.tensorScatterUpdate(param, at, next));
      }
    });
  }

  dispose(): void {
    for (const variable of [...Object.values(this.first), ...Object.values(this.second)]) variable.dispose();
  }
}

/**
 * The head's parameters as variables, and who trains each: those a sampled loss reads only through their sampled
 * rows (`rowSampled`), row by row (lazy Adam); the rest (`withNetwork`) the same Adam as the network's weights.
 */
export function headParamTraining(
  tf: Tf,
  head: Parameters<typeof headParamVariables>[1],
  rowSampled: ReadonlySet<string>,
  learningRate: number,
): { params: Record<string, Variable>; sampledRowsAdam: SampledRowsAdam | undefined; withNetwork: Variable[] } {
  const params = headParamVariables(tf, head);
  const sampledRowsAdam = rowSampled.size
    ? new SampledRowsAdam(tf, Object.fromEntries([...rowSampled].map((name) => [name, params[name]!])), learningRate)
    : undefined;
  const withNetwork = Object.entries(params)
    .filter(([name]) => !rowSampled.has(name))
    .map(([, variable]) => variable);
  return { params, sampledRowsAdam, withNetwork };
}
