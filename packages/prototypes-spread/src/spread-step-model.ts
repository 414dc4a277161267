import { GraphBuilder } from '@hyperproto/onnx-graph';

/** Adam's moment decay rates and denominator floor (Kingma & Ba's defaults). */
export const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

/**
 * `trips` optimisation steps in one onnxruntime call (a Loop), so the rows and Adam's moments stay inside the
 * engine between steps. Per step, for C unit rows P [C, D] and each row's k neighbour indices N [C, k]:
 *
 *   s_ij = p_i . p_j (j in N(i))                        the cosines to the neighbours, [C, k]
 *   w_i  = softmax(s_i / temperature)                   gradient of the smooth maximum T log sum exp(s_ij / T)
 *   g_i  = sum_j w_ij p_j - (p_i . that) p_i            projected on the sphere's tangent space at p_i
 *   Adam on g with bias-corrected step sizes, then every row renormalised to unit length.
 *
 * O(C k D) per step: the C x C similarities are never formed. The per-step inputs `step_size[t]`
 * (learning rate over 1 - beta1^t) and `second_correction[t]` (1 / (1 - beta2^t)) carry the schedule, so one
 * session serves every call. The largest neighbour cosine of each step comes back as a scan output.
 */
export function spreadStepsModel(dims: number, neighbours: number): Uint8Array {
  const body = new GraphBuilder('spread_step');
  const iteration = body.input('iteration', 'int64', []);
  body.input('condition_in', 'bool', []);
  const rows = body.input('rows_in', 'float32', ['C', dims]);
  const first = body.input('first_moment_in', 'float32', ['C', dims]);
  const second = body.input('second_moment_in', 'float32', ['C', dims]);

  const gathered = body.node('Gather', [rows, 'neighbours'], { axis: 0 }); // [C, k, D]
  const cosines = body.node('MatMul', [gathered, body.node('Unsqueeze', [rows, body.ints([2])])]); // [C, k, 1]
  const weights = body.node('Softmax', [body.node('Mul', [cosines, 'inverse_temperature'])], { axis: 1 });
  const pull = body.node('MatMul', [body.node('Transpose', [weights], { perm: [0, 2, 1] }), gathered]); // [C, 1, D]
  const gradient = body.node('Squeeze', [pull, body.ints([1])]);
  const radial = body.node('ReduceSum', [body.node('Mul', [gradient, rows]), body.ints([1])], { keepdims: 1 });
  const tangent = body.node('Sub', [gradient, body.node('Mul', [radial, rows])]);

  const firstOut = body.node(
    'Add',
    [body.node('Mul', [first, body.scalar(ADAM.beta1)]), body.node('Mul', [tangent, body.scalar(1 - ADAM.beta1)])],
    {},
    { outputs: ['first_moment_out'] },
  );
  const squared = body.node('Mul', [tangent, tangent]);
  const secondOut = body.node(
    'Add',
    [body.node('Mul', [second, body.scalar(ADAM.beta2)]), body.node('Mul', [squared, body.scalar(1 - ADAM.beta2)])],
    {},
    { outputs: ['second_moment_out'] },
  );
  const stepSize = body.node('Gather', ['step_size', iteration], { axis: 0 });
  const correction = body.node('Gather', ['second_correction', iteration], { axis: 0 });
  const denominator = body.node('Add', [body.node('Sqrt', [body.node('Mul', [secondOut, correction])]), body.scalar(ADAM.epsilon)]);
  const moved = body.node('Sub', [rows, body.node('Div', [body.node('Mul', [firstOut, stepSize]), denominator])]);
  const length = body.node('Sqrt', [body.node('ReduceSum', [body.node('Mul', [moved, moved]), body.ints([1])], { keepdims: 1 })]);
  body.output(body.node('Identity', ['condition_in'], {}, { outputs: ['condition_out'] }), 'bool', []);
  body.output(body.node('Div', [moved, length], {}, { outputs: ['rows_out'] }), 'float32', ['C', dims]);
  body.output(firstOut, 'float32', ['C', dims]);
  body.output(secondOut, 'float32', ['C', dims]);
  body.output(body.node('ReduceMax', [cosines], { keepdims: 0 }, { outputs: ['largest_out'] }), 'float32', []);

  const g = new GraphBuilder('spread_steps');
  const trips = g.input('trips', 'int64', []);
  g.input('rows', 'float32', ['C', dims]);
  g.input('first_moment', 'float32', ['C', dims]);
  g.input('second_moment', 'float32', ['C', dims]);
  g.input('neighbours', 'int32', ['C', neighbours]);
  g.input('step_size', 'float32', ['S']);
  g.input('second_correction', 'float32', ['S']);
  g.input('inverse_temperature', 'float32', []);
  const always = g.initializer('always', Uint8Array.from([1]), [], 'bool');
  g.nodeOutputs(
    'Loop',
    [trips, always, 'rows', 'first_moment', 'second_moment'],
    { body },
    { outputs: ['rows_final', 'first_final', 'second_final', 'largest'] },
  );
  g.output('rows_final', 'float32', ['C', dims]);
  g.output('first_final', 'float32', ['C', dims]);
  g.output('second_final', 'float32', ['C', dims]);
  g.output('largest', 'float32', ['S']);
  return g.toModel({ opset: 18 });
}
