import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder } from './index.js';

async function run(model: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const session = await ort.InferenceSession.create(model);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('GraphBuilder', () => {
  it('encodes a MatMul + Add model with a dynamic batch that onnxruntime runs correctly', async () => {
    const g = new GraphBuilder('affine');
    const x = g.input('x', 'float32', ['N', 2]);
    const w = g.initializer('w', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const b = g.initializer('b', new Float32Array([0.5, -1, 2]), [3]);
    g.output(g.node('Add', [g.node('MatMul', [x, w]), b], {}, { outputs: ['y'] }), 'float32', ['N', 3]);
    const { y } = await run(g.toModel({ metadata: { head: 'softmax' } }), {
      x: new ort.Tensor('float32', new Float32Array([1, 1, 2, -1]), [2, 2]),
    });
    expect(y!.dims).toEqual([2, 3]);
    expect([...(y!.data as Float32Array)]).toEqual([5.5, 6, 11, -1.5, -2, 2]);
  });

  it('encodes int, negative int, float and ints attributes, int64 initializers and multi-output nodes', async () => {
    const g = new GraphBuilder('attrs');
    const x = g.input('x', 'float32', [2, 3]);
    const scaled = g.node('Gemm', [x, g.initializer('eye', new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]), [3, 3])], {
      alpha: 0.5,
      transB: 1,
    });
    const [values, indices] = g.nodeOutputs('TopK', [scaled, g.ints([2])], { axis: -1, largest: 1 }, { outputs: ['values', 'indices'] });
    const summed = g.node('ReduceSum', [values!, g.ints([1])], { keepdims: 0 }, { outputs: ['summed'] });
    const lifted = g.node('LeakyRelu', [g.node('Neg', [summed])], { alpha: attr.float(2) }, { outputs: ['lifted'] });
    g.output(indices!, 'int64', [2, 2]);
    g.output(lifted, 'float32', [2]);
    const out = await run(g.toModel(), { x: new ort.Tensor('float32', new Float32Array([1, 5, 3, -2, -1, -4]), [2, 3]) });
    expect([...(out.indices!.data as BigInt64Array)]).toEqual([1n, 2n, 1n, 0n]);
    // Row sums of the two largest halves: 4 and -1.5; Neg then LeakyRelu(alpha 2): -8 and 1.5.
    expect([...(out.lifted!.data as Float32Array)]).toEqual([-8, 1.5]);
  });

  it('encodes a subgraph attribute: a Loop that adds a constant five times', async () => {
    const body = new GraphBuilder('body');
    body.input('i', 'int64', []);
    body.input('cond_in', 'bool', []);
    const acc = body.input('acc_in', 'float32', [2]);
    body.output(body.node('Identity', ['cond_in'], {}, { outputs: ['cond_out'] }), 'bool', []);
    body.output(body.node('Add', [acc, 'step'], {}, { outputs: ['acc_out'] }), 'float32', [2]);

    const g = new GraphBuilder('loop');
    const start = g.input('start', 'float32', [2]);
    g.initializer('step', new Float32Array([1, 2]), [2]);
    const trips = g.initializer('trips', BigInt64Array.from([5n]), []);
    const cond = g.initializer('cond', Uint8Array.from([1]), [], 'bool');
    g.output(g.node('Loop', [trips, cond, start], { body }, { outputs: ['final'] }), 'float32', [2]);
    const { final } = await run(g.toModel(), { start: new ort.Tensor('float32', new Float32Array([0, 10]), [2]) });
    expect([...(final!.data as Float32Array)]).toEqual([5, 20]);
  });

  it('refuses a value name used twice and an initializer of the wrong size', () => {
    const g = new GraphBuilder();
    g.input('x', 'float32');
    expect(() => g.input('x', 'float32')).toThrow(/already used/);
    expect(() => g.initializer('w', new Float32Array(3), [2, 2])).toThrow(/3 values for dims \[2, 2\]/);
  });

  it('gives unique names to initializers that share a requested name', () => {
    const g = new GraphBuilder();
    expect(g.initializer('w', new Float32Array(1), [1])).toBe('w');
    expect(g.initializer('w', new Float32Array(1), [1])).not.toBe('w');
  });
});
