import { createRng, type Rng } from '@hyperproto/core';
import { mlpLayerList, mlpLayers, mlpLayersFromList, type MlpShape } from '@hyperproto/mlp';
import { GraphBuilder, TracedGraph, type Value } from '@hyperproto/onnx-graph';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { backwardMlp, trainingForwardMlp } from './mlp-graph.js';
import { emitGradients } from './reverse-mode.js';

const uniform = (rng: Rng, size: number, low: number, high: number) =>
  Float64Array.from({ length: size }, () => low + (high - low) * rng.float());

/**
 * The network's gradients two ways in float64 on the same forward pass: the closed forms of `backwardMlp`, and
 * reverse mode over the forward pass's own operators with the gradient-rule registry (each rule checked against
 * finite differences in gradient-rules.test.ts). The loss is sum(output * cotangent) for a random cotangent.
 */
async function bothGradients(shape: MlpShape, rows: number, dropout: number, seed: number) {
  const rng = createRng(seed);
  const g = new TracedGraph(new GraphBuilder('mlp_gradients'), { floatType: 'float64' });
  const specs = mlpLayerList(mlpLayers(shape));
  const feeds: Record<string, ort.Tensor> = {};
  const params = specs.map((spec) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    // gamma away from zero, other weights around it; the moving statistics are not read in training mode.
    const data = spec.name.includes('gamma') ? uniform(rng, size, 0.5, 1.5) : uniform(rng, size, -1, 1);
    feeds[spec.name] = new ort.Tensor('float64', data, [...spec.shape]);
    return g.input(spec.name, 'float64', spec.shape);
  });
  const features = g.constant('features', uniform(rng, rows * shape.inputWidth, -2, 2), [rows, shape.inputWidth]);
  const keptScale = 1 / (1 - dropout);
  const masks =
    dropout > 0
      ? Array.from({ length: shape.hiddenLayers }, (_, i) =>
          g.constant(
            `mask${i}`,
            Float64Array.from({ length: rows * shape.hiddenUnits }, () => (rng.float() < dropout ? 0 : keptScale)),
            [rows, shape.hiddenUnits],
          ),
        )
      : [];
  const ones = g.constant('ones', new Float64Array(rows).fill(1), [1, rows]);
  const keptSums = g.constant('kept_sums', new Float64Array(rows).fill(keptScale), [1, rows]);
  const inverseCount = g.constant('inverse_count', [1 / rows], [1]);
  const net = mlpLayersFromList(params, shape.hiddenLayers);
  const pass = trainingForwardMlp(g, net, features, { ones, keptSums, inverseCount }, { masks, keptScale });
  const cotangent = g.constant('cotangent', uniform(rng, rows * shape.outputUnits, -1, 1), [rows, shape.outputUnits]);
  const loss = g.reduceSum(g.mul(pass.output, cotangent), [0, 1], false);
  const trainable = specs.map((spec, i) => (spec.trainable ? params[i]! : undefined));
  const generic = emitGradients(
    g,
    loss,
    trainable.filter((p): p is Value => p !== undefined),
  );
  const byRole = backwardMlp(g, pass, cotangent);
  const closed = mlpLayerList({
    hidden: byRole.hidden.map((l) => ({ ...l, movingMean: undefined, movingVariance: undefined })),
    head: byRole.head,
  }).filter((v): v is Value => v !== undefined);
  const fetched = [...generic.map((v) => v!), ...closed];
  g.finish(fetched);
  fetched.forEach((v) => g.builder.output(v.name, 'float64', v.shape.map((d) => (typeof d === 'number' ? d : -1)) as number[]));
  const session = await ort.InferenceSession.create(g.builder.toModel({ opset: 17 }), { logSeverityLevel: 3 });
  try {
    const out = await session.run(feeds);
    const values = fetched.map((v) => out[v.name]!.data as Float64Array);
    const names = specs.filter((s) => s.trainable).map((s) => s.name);
    return names.map((name, i) => ({ name, generic: values[i]!, closed: values[names.length + i]! }));
  } finally {
    await session.release();
  }
}

describe("backwardMlp, the network's gradients in closed form", () => {
  it.each([
    ['with dropout', 0.3],
    ['without dropout', 0],
  ])('equals reverse mode over the forward pass (float64, %s)', async (_name, dropout) => {
    const shape: MlpShape = { inputWidth: 7, hiddenUnits: 6, hiddenLayers: 2, outputUnits: 5 };
    // 32 rows: with a handful, a unit's few active rows make batch norm's gradient ill-conditioned, and both ways
    // then agree only to about 1e-8 (each about as far from finite differences).
    const gradients = await bothGradients(shape, 32, dropout, 3);
    expect(gradients.map((g) => g.name)).toEqual([
      'trunk/dense0/kernel',
      'trunk/bn0/gamma',
      'trunk/bn0/beta',
      'trunk/dense1/kernel',
      'trunk/bn1/gamma',
      'trunk/bn1/beta',
      'head/dense/kernel',
      'head/dense/bias',
    ]);
    for (const { name, generic, closed } of gradients) {
      expect(closed.length, name).toBe(generic.length);
      const scale = Math.max(...generic.map(Math.abs));
      // Not a trivially zero gradient: the comparison says something.
      expect(scale, name).toBeGreaterThan(1e-3);
      const gap = Math.max(...closed.map((v, j) => Math.abs(v - generic[j]!)));
      expect(gap / scale, name).toBeLessThan(1e-12);
    }
  });
});
