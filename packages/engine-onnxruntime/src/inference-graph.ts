import type { HeadDefinition } from '@hyperproto/core';
import { mlpLayersFromList, type MlpShape, mlpWeightSpecs } from '@hyperproto/mlp';
import { GraphBuilder, headConstantValues, lowerHeadExpr, TracedGraph } from '@hyperproto/onnx-graph';
import { inferenceMlp } from './mlp-graph.js';
import { headParamValuesByName, headParamWeightSpecs, OPSET } from './training-step-graph.js';

export interface InferenceModel {
  readonly bytes: Uint8Array;
  /** Names of the weight inputs, in `mlpWeightSpecs` order, then the head's parameters (`headParamWeightSpecs`). */
  readonly weightInputs: readonly string[];
  /** [N, inputWidth] float32 input. */
  readonly features: string;
  /** [N] int32 input; only the loss and the correct count read it. */
  readonly labels: string;
  /** [N, C] float32. */
  readonly scores: string;
  /** [N] int64: the argmax of the scores. */
  readonly predictions: string;
  /** Float scalars: the head's loss over the rows fed and the number of correct predictions. */
  readonly loss: string;
  readonly correct: string;
}

/**
 * The inference slice of the training graph: the trunk with the moving averages and no dropout, then the head's
 * scores, their argmax and, for validation, the head's loss and the number of correct predictions. Weights are
 * inputs, so that validation during training and `predict` afterwards run the very same model on the same
 * weights and agree exactly.
 */
export function buildInferenceModel(shape: MlpShape, head: HeadDefinition): InferenceModel {
  const builder = new GraphBuilder('hyperproto_inference');
  const g = new TracedGraph(builder);
  const specs = mlpWeightSpecs(shape);
  const params = specs.map((w) => g.input(w.name, 'float32', w.shape));
  // The head's parameters are inputs too, after the weights: their current values while training, then the trained ones.
  const headParamInputs = headParamWeightSpecs(head).map((w) => g.input(w.name, 'float32', w.shape));
  const headParams = headParamValuesByName(head, headParamInputs);
  const features = g.input('features', 'float32', ['N', shape.inputWidth]);
  const labels = g.input('labels', 'int32', ['N']);
  const output = inferenceMlp(g, mlpLayersFromList(params, shape.hiddenLayers), features);
  const constants = headConstantValues(g, head.constants, [head.scores, head.loss], "the head's scores and loss");
  // Named where it is made: an Identity under the name would copy the [N, C] scores on every run, fetched or not.
  const scores = lowerHeadExpr(
    g,
    head.scores,
    { output, constants, params: headParams },
    { what: "the head's scores", resultName: 'scores' },
  );
  const predictions = g.argMaxLastAxis(scores);
  const loss = lowerHeadExpr(g, head.loss, { output, labels, constants, params: headParams }, { what: "the head's loss" });
  const hits = g.cast(g.equal(predictions, g.cast(labels, 'int64')), 'float32');
  g.output(scores);
  g.output(g.named(predictions, 'predictions'));
  g.output(g.named(loss, 'loss'));
  g.output(g.named(g.reduceSum(hits, [0], false), 'correct'));
  g.finish();
  return {
    bytes: builder.toModel({ opset: OPSET, docString: 'hyperproto inference: trunk in inference mode, head scores, loss' }),
    weightInputs: [...specs.map((w) => w.name), ...headParamInputs.map((v) => v.name)],
    features: features.name,
    labels: labels.name,
    scores: 'scores',
    predictions: 'predictions',
    loss: 'loss',
    correct: 'correct',
  };
}
