import { TestGraph } from './protobuf.js';

/**
 * A classifier graph as the exporter writes one, using every operator of MODEL_OPERATORS once at least (opset 17:
 * ReduceSum, Squeeze and Unsqueeze take their axes as inputs, ReduceMean as an attribute): features [N, 4], a
 * dense layer of 3, cosines against 5 prototypes [5, 3], scores [N, 5], label [N] and top-2. With `spellDomain`,
 * the nodes of every other operator name the default domain by its other name, `ai.onnx`. Returns the file and the
 * operators it uses.
 */
export function everyOperatorModel(spellDomain = false): { bytes: Uint8Array; operators: Set<string> } {
  const g = new TestGraph();
  const operators = new Set<string>();
  const node = (
    op: string,
    inputs: readonly string[],
    output: string | readonly string[],
    attributes: Record<string, number | number[]> = {},
  ) => {
    operators.add(op);
    return g.node(op, inputs, output, attributes, spellDomain && operators.size % 2 ? 'ai.onnx' : undefined);
  };
  const x = g.input('features', ['N', 4]);
  const dense = node('Gemm', [x, g.floats('W', [4, 3]), g.floats('b', [3])], 'dense');
  const hidden = node('Relu', [dense], 'hidden');
  // l2normalize: x / sqrt(max(sum(x^2), floor)).
  const squares = node('ReduceSum', [node('Mul', [hidden, hidden], 'squared'), g.ints('last', [-1])], 'squares', { keepdims: 1 });
  const norm = node('Sqrt', [node('Max', [squares, g.floats('floor', [])], 'floored')], 'norm');
  const unit = node('Mul', [hidden, node('Reciprocal', [norm], 'inverse')], 'unit');
  const prototypes = g.floats('prototypes', [5, 3]);
  const cosines = node('Gemm', [unit, prototypes], 'cosines', { transB: 1 });
  // Arithmetic that changes no shape.
  const two = g.floats('two', []);
  const logged = node('Neg', [node('Log', [node('Exp', [cosines], 'exp')], 'log')], 'neg');
  const arithmetic = node('Div', [node('Sub', [node('Add', [logged, cosines], 'add'), cosines], 'sub'), two], 'div');
  const scores = node('Softmax', [node('Pow', [arithmetic, two], 'pow')], 'scores', { axis: 1 });
  const logScores = node('LogSoftmax', [scores], 'log_scores', { axis: -1 });
  node('ReduceMean', [logScores], 'mean', { keepdims: 0 });
  const label = node('ArgMax', [scores], 'label', { axis: 1, keepdims: 0 });
  node('Gather', [prototypes, label], 'label_prototypes', { axis: 0 });
  const column = node('Unsqueeze', [label, g.ints('second', [1])], 'label_column');
  const picked = node('GatherElements', [scores, column], 'picked', { axis: 1 });
  node('Squeeze', [picked, g.ints('second_again', [1])], 'picked_scores');
  node('Identity', [node('Cast', [node('Equal', [label, label], 'same')], 'same_float', { to: 1 })], 'checked');
  node('TopK', [scores, g.ints('k', [2])], ['topk_scores', 'topk_labels'], { axis: -1, largest: 1, sorted: 1 });
  return { bytes: g.model({ metadata: { classes: '5' } }), operators };
}
