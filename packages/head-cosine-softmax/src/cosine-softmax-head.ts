import {
  createMatrix,
  defineHead,
  ErrorCode,
  h,
  HyperprotoError,
  sampledShareOption,
  z,
  type HeadDefinition,
  type HeadExpr,
  type Matrix,
} from '@hyperproto/core';

/** The name under which the head ships its prototype matrix [C, D], rows scaled to unit length. */
export const PROTOTYPES_CONSTANT = 'prototypes';

/** The learned scale is exp(logScale): a scale that training cannot drive through zero, so the argmax stays the nearest prototype. */
export const LOG_SCALE_PARAM = 'logScale';

/**
 * The scale s when none is given. Our choice, not a published value: between the temperatures 0.1 (s = 10) and
 * 0.03 (s = 33) that a cosine-softmax over fixed prototypes was measured with at 1,000 classes; CosFace used 64.
 */
export const DEFAULT_SCALE = 16;

export const cosineSoftmaxHeadOptionsSchema = z.strictObject({
  /** s: the logits are s * cos(output, prototype). */
  scale: z.number().positive().max(1e4).default(DEFAULT_SCALE),
  /** Train s with the network (as exp of a trained log-scale, starting at `scale`) instead of keeping it fixed. */
  learnScale: z.boolean().default(false),
  /**
   * The share of the classes each training step's loss sees (sampled softmax, Partial FC): the batch's labels plus a
   * seeded uniform sample of the others; validation, test and export see every class. 1: no sampling.
   */
  sampledShare: sampledShareOption,
});

export type CosineSoftmaxHeadOptions = z.output<typeof cosineSoftmaxHeadOptionsSchema>;

/** Cosine of the output to every prototype [N, C]; prototypes are unit rows, so a product with the unit output. */
export const prototypeCosines: HeadExpr = h.matmulTransposed(h.l2normalize(h.output()), h.constant(PROTOTYPES_CONSTANT));

/** s as an expression: the constant `scale`, or exp of the trained parameter `logScale` starting at ln(scale). */
export function scaleExpr(options: { readonly scale: number; readonly learnScale: boolean }): HeadExpr {
  return options.learnScale ? h.exp(h.param(LOG_SCALE_PARAM, Math.log(options.scale))) : h.scalar(options.scale);
}

/** Cross-entropy of the true class over logits [N, C] (the labels' columns: `labels`), averaged over rows. */
export function crossEntropy(logits: HeadExpr, labels: HeadExpr = h.labels()): HeadExpr {
  return h.mean(h.neg(h.pickPerRow(h.logSoftmax(logits), labels)));
}

/** Cosine of the output to the prototypes of a training step's sampled classes [N, S] (all of them where none are sampled). */
export const sampledPrototypeCosines: HeadExpr = h.matmulTransposed(
  h.l2normalize(h.output()),
  h.sampledRows(h.constant(PROTOTYPES_CONSTANT)),
);

/**
 * The prototypes as the head ships them: one finite, non-zero row per class, each scaled to unit length (a
 * prototype file need not hold unit rows). Refused with the head's name otherwise.
 */
export function unitPrototypes(head: string, classes: number, prototypes: Matrix | undefined): Matrix {
  const fail = (message: string, hint?: string): never => {
    throw new HyperprotoError(ErrorCode.InvalidInput, `the ${head} head ${message}`, hint ? { hint } : {});
  };
  if (!prototypes) {
    return fail(
      'needs prototypes, one row per class',
      'Name a prototype strategy and dims in the spec (e.g. "prototypes": { "strategy": "orthogonal", "dims": 100 }) or a .npy file.',
    );
  }
  if (!Number.isInteger(classes) || classes < 2) fail(`needs at least 2 classes, got ${classes}`);
  if (prototypes.rows !== classes)
    fail(`got ${prototypes.rows} prototypes for ${classes} classes; it needs exactly one prototype row per class`);
  const { rows, cols, data } = prototypes;
  if (cols < 1 || data.length !== rows * cols) fail(`got a prototype matrix of ${rows} x ${cols} with ${data.length} values`);
  const unit = createMatrix(rows, cols);
  for (let r = 0; r < rows; r++) {
    let squared = 0;
    for (let k = 0; k < cols; k++) {
      const value = data[r * cols + k]!;
      if (!Number.isFinite(value)) fail(`got a non-finite prototype value at row ${r}, column ${k}`);
      squared += value * value;
    }
    if (squared === 0) fail(`got prototype ${r} of length 0; a cosine needs a direction`);
    const scale = 1 / Math.sqrt(squared);
    for (let k = 0; k < cols; k++) unit.data[r * cols + k] = data[r * cols + k]! * scale;
  }
  return unit;
}

/**
 * A softmax over prototype cosines as a head: trained by cross-entropy of `trainingLogits`, scored by
 * softmax(`logits`) (a model at prediction time has no labels), shipping the unit prototypes. The output layer is
 * as wide as the prototypes, not the classes.
 */
export function prototypeSoftmaxDefinition(unit: Matrix, trainingLogits: HeadExpr, logits: HeadExpr = trainingLogits): HeadDefinition {
  return {
    outputUnits: unit.cols,
    loss: crossEntropy(trainingLogits),
    scores: h.softmax(logits),
    scoresName: 'probabilities',
    constants: { [PROTOTYPES_CONSTANT]: unit },
  };
}

/**
 * Cosine-softmax over fixed prototypes (normalised softmax, as in NormFace and CosFace without a margin): logits
 * s * cos(output, p_c), trained by cross-entropy; the scores are softmax(s * cos), so the prediction is the nearest
 * prototype. The output layer is as wide as the prototypes, not the classes. With `sampledShare` below 1 the loss
 * is the cross-entropy over the step's sampled classes only; the scores are over every class.
 */
export const cosineSoftmaxHead = defineHead({
  name: 'cosine-softmax',
  summary: 'Softmax over scaled cosines to fixed prototypes: cross-entropy of s * cos(output, prototype); s fixed or learned',
  options: cosineSoftmaxHeadOptionsSchema,
  usesPrototypes: true,
  build({ classes, prototypes }, options): HeadDefinition {
    const unit = unitPrototypes('cosine-softmax', classes, prototypes);
    const scale = scaleExpr(options);
    const definition = prototypeSoftmaxDefinition(unit, h.mul(scale, prototypeCosines));
    if (options.sampledShare === 1) return definition;
    return {
      ...definition,
      loss: crossEntropy(h.mul(scale, sampledPrototypeCosines), h.sampledLabels()),
      sampledShare: options.sampledShare,
    };
  },
});
