import { defineHead, ErrorCode, h, HyperprotoError, sampledShareOption, z, type HeadDefinition, type HeadExpr } from '@hyperproto/core';

/** The learned classifier W [C, D]: one row per class, Glorot-uniform at the start. */
export const CLASSIFIER_PARAM = 'classifier';
/** The learned bias b [C], zeros at the start. */
export const BIAS_PARAM = 'bias';

/**
 * D when none is given: the narrower of the two output widths the collapse study compares (100 and 1,000), and
 * what an HPN over 100-dimensional prototypes is compared against. Our choice, not the seed's.
 */
export const DEFAULT_DIMS = 100;

export const bottleneckSoftmaxHeadOptionsSchema = z.strictObject({
  /** D: the width of the network's (linear) output layer, which the classifier reads. */
  dims: z.number().int().min(1).max(100_000).default(DEFAULT_DIMS),
  /**
   * The share of the classes each training step's loss sees (sampled softmax, Partial FC): the batch's labels plus a
   * seeded uniform sample of the others; validation, test and export see every class. 1: no sampling.
   */
  sampledShare: sampledShareOption,
});

export type BottleneckSoftmaxHeadOptions = z.output<typeof bottleneckSoftmaxHeadOptionsSchema>;

/**
 * The class logits [N, C]: output [N, D] times W [C, D] transposed, plus b [C] on every row; with `sampled`, the
 * logits of the step's sampled classes only [N, S] (every class where no sample is drawn).
 */
export function bottleneckLogits(classes: number, dims: number, sampled = false): HeadExpr {
  const classifier = h.param(CLASSIFIER_PARAM, { shape: [classes, dims], init: 'glorotUniform' });
  const bias = h.param(BIAS_PARAM, { shape: [classes], init: 'zeros' });
  const rows = (x: HeadExpr) => (sampled ? h.sampledRows(x) : x);
  return h.add(h.matmulTransposed(h.output(), rows(classifier)), rows(bias));
}

/**
 * A softmax whose classifier is learned on top of a D-wide linear output layer: logits = output W^T + b with W
 * [C, D] (Glorot-uniform) and b [C] (zeros) trained with the network, cross-entropy loss, softmax scores. It is
 * the learned-classifier control for a prototype head at the same output width: the same network up to the D-wide
 * layer, a classifier learned instead of fixed prototypes. With `sampledShare` below 1 the loss is the
 * cross-entropy over the step's sampled classes (the label at its position among them), and the engines update
 * only the sampled rows of W and b; the scores are over every class.
 */
export const bottleneckSoftmaxHead = defineHead({
  name: 'bottleneck-softmax',
  summary: 'Softmax over a learned classifier [C, D] on a D-wide linear output layer: the learned control for prototype heads',
  options: bottleneckSoftmaxHeadOptionsSchema,
  usesPrototypes: false,
  build({ classes }, options): HeadDefinition {
    if (!Number.isInteger(classes) || classes < 2) {
      throw new HyperprotoError(ErrorCode.InvalidInput, `the bottleneck-softmax head needs at least 2 classes, got ${classes}`);
    }
    const logits = bottleneckLogits(classes, options.dims);
    const sampled = options.sampledShare < 1;
    const trainingLogits = sampled ? bottleneckLogits(classes, options.dims, true) : logits;
    return {
      outputUnits: options.dims,
      loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(trainingLogits), sampled ? h.sampledLabels() : h.labels()))),
      scores: h.softmax(logits),
      scoresName: 'probabilities',
      constants: {},
      ...(sampled ? { sampledShare: options.sampledShare } : {}),
    };
  },
});
