import { ErrorCode, HyperprotoError, type NamedWeight, type Rng } from '@hyperproto/core';

// The network, its weight names and its starting weights are the tfjs engine's (@hyperproto/engine-tfjs
// mlp-network.ts), so that models from either engine load, export and compare alike and the same seed starts both
// from the same weights. parity.test.ts checks that the two stay in step.

/** Keras' BatchNormalization defaults, which the seed's network used. */
export const BATCH_NORM_EPSILON = 1e-3;
export const BATCH_NORM_MOMENTUM = 0.99;

/** Adam as in Keras (and the tfjs engine). */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-7;

export interface MlpShape {
  readonly inputWidth: number;
  readonly hiddenUnits: number;
  readonly hiddenLayers: number;
  readonly outputUnits: number;
}

export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Trained by Adam; the batch norm moving statistics are updated by averaging instead. */
  readonly trainable: boolean;
}

/** Every parameter in a fixed order: per hidden layer its dense kernel and batch norm, then the head's dense layer. */
export function mlpWeightSpecs(shape: MlpShape): WeightSpec[] {
  const specs: WeightSpec[] = [];
  let width = shape.inputWidth;
  for (let i = 0; i < shape.hiddenLayers; i++) {
    const units = [shape.hiddenUnits];
    specs.push(
      { name: `trunk/dense${i}/kernel`, shape: [width, shape.hiddenUnits], trainable: true },
      { name: `trunk/bn${i}/gamma`, shape: units, trainable: true },
      { name: `trunk/bn${i}/beta`, shape: units, trainable: true },
      { name: `trunk/bn${i}/moving_mean`, shape: units, trainable: false },
      { name: `trunk/bn${i}/moving_variance`, shape: units, trainable: false },
    );
    width = shape.hiddenUnits;
  }
  specs.push(
    { name: 'head/dense/kernel', shape: [width, shape.outputUnits], trainable: true },
    { name: 'head/dense/bias', shape: [shape.outputUnits], trainable: true },
  );
  return specs;
}

/** Starting weights: Glorot-uniform kernels from `rng`, zero biases and betas, unit gammas, moving stats 0 and 1. */
export function initialMlpWeights(shape: MlpShape, rng: Rng): NamedWeight[] {
  return mlpWeightSpecs(shape).map(({ name, shape: dims }) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (name.endsWith('/kernel')) {
      const limit = Math.sqrt(6 / (dims[0]! + dims[1]!));
      rng.fillUniform(data, -limit, limit);
    } else if (name.endsWith('/gamma') || name.endsWith('/moving_variance')) {
      data.fill(1);
    }
    return { name, shape: dims, data };
  });
}

/** Weights in `mlpWeightSpecs` order, looked up by name and checked against the network's shapes. */
export function orderedMlpWeights(shape: MlpShape, weights: readonly NamedWeight[], source: string): NamedWeight[] {
  const byName = new Map(weights.map((w) => [w.name, w]));
  return mlpWeightSpecs(shape).map((spec) => {
    const weight = byName.get(spec.name);
    if (!weight) throw new HyperprotoError(ErrorCode.InvalidInput, `${source} has no weight "${spec.name}"`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (weight.shape.join(',') !== spec.shape.join(',') || weight.data.length !== size) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${source}: weight "${spec.name}" has shape [${weight.shape.join(', ')}] with ${weight.data.length} values, expected [${spec.shape.join(', ')}]`,
      );
    }
    return { name: spec.name, shape: spec.shape, data: weight.data };
  });
}

/**
 * Fills `size` inverted-dropout mask values from `offset`: each unit kept with probability 1 - rate and scaled by
 * 1 / (1 - rate), so inference needs no rescaling. The draws come from a xoshiro128** stream whose state is four
 * draws from `rng`: seeded from the run's seed like everything else, but inlined, and each 32-bit draw serves two
 * units (16 bits each, so the keep probability is exact to 2^-16). Masks take as many draws per batch as the batch
 * has hidden activations; drawn through `rng` one by one they took as long as the training step itself.
 */
export function fillDropoutMask(rng: Rng, into: Float32Array, offset: number, size: number, rate: number): void {
  const threshold = Math.round((1 - rate) * 0x10000);
  const scale = 1 / (1 - rate);
  let a = rng.uint32() | 0;
  let b = rng.uint32() | 0;
  let c = rng.uint32() | 0;
  let d = rng.uint32() | 0;
  if ((a | b | c | d) === 0) a = 1;
  const end = offset + size;
  for (let i = offset; i < end; i += 2) {
    const b5 = Math.imul(b, 5);
    const draw = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    into[i] = (draw & 0xffff) < threshold ? scale : 0;
    if (i + 1 < end) into[i + 1] = draw >>> 16 < threshold ? scale : 0;
  }
}
