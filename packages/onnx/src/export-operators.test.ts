import {
  createRng,
  h,
  HEAD_OPS,
  resolveOptions,
  startHeadParams,
  type HeadExpr,
  type HeadOp,
  type HeadPlugin,
  type TrainerSettings,
} from '@hyperproto/core';
import bottleneckSoftmaxHead from '@hyperproto/head-bottleneck-softmax';
import cosineSoftmaxHead from '@hyperproto/head-cosine-softmax';
import hpnHead from '@hyperproto/head-hpn';
import marginHead from '@hyperproto/head-margin';
import softmaxHead from '@hyperproto/head-softmax';
import { initialMlpWeights, mlpShape } from '@hyperproto/mlp';
import { DEFAULT_ONNX_DOMAINS, MODEL_OPERATORS, readOnnxModelInfo } from '@hyperproto/model-contract';
import { GraphBuilder, lowerHeadExpr, TracedGraph } from '@hyperproto/onnx-graph';
import randomPrototypes from '@hyperproto/prototypes-random';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from './index.js';

// The runtimes refuse a model file with an operator outside the model contract's MODEL_OPERATORS: every operator
// the exporter writes, for any head, must be in it, and it should hold nothing the exporter never writes.

const CLASSES = 6;
const WIDTH = 5;
const trainer: Pick<TrainerSettings, 'hiddenUnits' | 'hiddenLayers'> = { hiddenUnits: 4, hiddenLayers: 2 };

/** Each built-in head, with options that reach every part of its score expression (a learned scale, a bottleneck). */
const HEADS: readonly [string, HeadPlugin, Record<string, unknown>][] = [
  ['softmax', softmaxHead, {}],
  ['hpn', hpnHead, {}],
  ['cosine-softmax', cosineSoftmaxHead, {}],
  ['cosine-softmax', cosineSoftmaxHead, { learnScale: true }],
  ['margin', marginHead, {}],
  ['margin', marginHead, { learnScale: true }],
  ['bottleneck-softmax', bottleneckSoftmaxHead, { dims: 3 }],
];

/** The head's model at its starting weights (drawn head parameters drawn), exported with top-k. */
async function exported(plugin: HeadPlugin, options: Record<string, unknown>, name: string): Promise<Uint8Array> {
  const rng = createRng(5);
  const prototypes = plugin.usesPrototypes
    ? await randomPrototypes.generate(
        { seed: 5, rng: rng.fork('prototypes') },
        { classes: CLASSES, dims: 4 },
        resolveOptions(randomPrototypes, {}),
      )
    : undefined;
  const built = plugin.build(prototypes ? { classes: CLASSES, prototypes } : { classes: CLASSES }, resolveOptions(plugin, options));
  const head = startHeadParams(built, rng.fork('head-params'));
  const weights = initialMlpWeights(mlpShape(WIDTH, trainer, head), rng.fork('weights'));
  return exportOnnx({ inputWidth: WIDTH, classes: CLASSES, head, weights, trainer }, { metadata: { head: name }, topK: 3 });
}

/** The operator and domain of every node in a ModelProto's graph, and its opset imports' domains: read here, apart from the reader under test. */
function operatorsOf(bytes: Uint8Array): { nodes: { op: string; domain: string }[]; opsetDomains: string[] } {
  const decoder = new TextDecoder();
  /** [field number, bytes] of each length-delimited field; varint fields are skipped (the exporter writes no others). */
  const fields = (message: Uint8Array): [number, Uint8Array][] => {
    const out: [number, Uint8Array][] = [];
    let at = 0;
    const varint = () => {
      let value = 0;
      for (let shift = 1; ; shift *= 128) {
        const byte = message[at++]!;
        value += (byte & 0x7f) * shift;
        if (byte < 0x80) return value;
      }
    };
    while (at < message.length) {
      const tag = varint();
      if (tag % 8 === 0) varint();
      else if (tag % 8 === 5) at += 4;
      else if (tag % 8 === 1) at += 8;
      else {
        const length = varint();
        out.push([Math.floor(tag / 8), message.subarray(at, at + length)]);
        at += length;
      }
    }
    return out;
  };
  const text = (message: Uint8Array, field: number) =>
    decoder.decode(fields(message).findLast(([n]) => n === field)?.[1] ?? new Uint8Array());
  const model = fields(bytes);
  const nodes = model
    .filter(([n]) => n === 7)
    .flatMap(([, graph]) => fields(graph).filter(([n]) => n === 1))
    .map(([, node]) => ({ op: text(node, 4), domain: text(node, 7) }));
  return { nodes, opsetDomains: model.filter(([n]) => n === 8).map(([, opset]) => text(opset, 1)) };
}

/** One expression per operation of the head language, in the widest setting: true labels and a class sample given. */
const EVERY_OPERATION: Record<HeadOp, HeadExpr> = {
  output: h.output(),
  labels: h.labels(),
  constant: h.constant('prototypes'),
  scalar: h.scalar(2),
  param: h.add(h.mul(h.output(), h.param('scale', 2)), h.param('offset', { shape: [4], value: 0.5 })),
  add: h.add(h.output(), h.scalar(1)),
  sub: h.sub(h.output(), h.scalar(1)),
  mul: h.mul(h.output(), h.output()),
  div: h.div(h.output(), h.scalar(3)),
  neg: h.neg(h.output()),
  exp: h.exp(h.output()),
  log: h.log(h.output()),
  // A square is a product; any other power is Pow.
  pow: h.add(h.pow(h.output(), 2), h.pow(h.output(), 3)),
  matmulTransposed: h.matmulTransposed(h.output(), h.constant('prototypes')),
  l2normalize: h.l2normalize(h.output()),
  softmax: h.softmax(h.output()),
  logSoftmax: h.logSoftmax(h.output()),
  // Float indices are cast to int64.
  gatherRows: h.add(h.gatherRows(h.constant('prototypes'), h.labels()), h.gatherRows(h.constant('prototypes'), h.rowSum(h.output()))),
  sampledRows: h.sampledRows(h.constant('prototypes')),
  sampledLabels: h.sampledLabels(),
  pickPerRow: h.pickPerRow(h.output(), h.labels()),
  oneHot: h.oneHot(h.labels(), CLASSES),
  rowSum: h.rowSum(h.output()),
  mean: h.mean(h.output()),
};

/** The ONNX operators the shared lowering writes for `expr`, named as an exported score output is. */
function lowered(expr: HeadExpr): string[] {
  const g = new TracedGraph(new GraphBuilder('lowering'), { prefix: 'head/' });
  const result = lowerHeadExpr(
    g,
    expr,
    {
      output: g.input('output', 'float32', ['N', 4]),
      labels: g.input('labels', 'int64', ['N']),
      constants: { prototypes: g.constant('head/constant/prototypes', new Float32Array(CLASSES * 4), [CLASSES, 4]) },
      sample: { classes: g.input('sampled', 'int64', ['S']), labels: g.input('positions', 'int64', ['N']) },
    },
    { resultName: 'scores' },
  );
  g.finish([result]);
  return g.tape.map((node) => node.opType);
}

describe('the ONNX operators the exporter writes', () => {
  it.each(HEADS)(
    'an exported %s model (%o, with top-k) uses only the model contract operators, in the default domain',
    async (name, plugin, options) => {
      const bytes = await exported(plugin, options, name);
      const { nodes, opsetDomains } = operatorsOf(bytes);
      expect(nodes.length).toBeGreaterThan(5);
      for (const { op, domain } of nodes) {
        expect(MODEL_OPERATORS, `${name}: ${op}`).toContain(op);
        expect(DEFAULT_ONNX_DOMAINS, `${name}: ${op}`).toContain(domain);
      }
      expect(opsetDomains).toEqual(['']);
      // And the runtimes' reader takes it.
      expect(readOnnxModelInfo(bytes, name).opset).toBe(17);
    },
  );

  it('every operation of the head language lowers to model contract operators, so a third-party head exports to them too', () => {
    expect(Object.keys(EVERY_OPERATION).sort()).toEqual([...HEAD_OPS].sort());
    for (const [op, expr] of Object.entries(EVERY_OPERATION)) {
      const written = lowered(expr);
      for (const onnxOp of written) expect(MODEL_OPERATORS, `head operation ${op} wrote ${onnxOp}`).toContain(onnxOp);
    }
  });

  it('the model contract allows exactly what the exporter and the lowering write, nothing the exporter never does', async () => {
    const written = new Set(Object.values(EVERY_OPERATION).flatMap(lowered));
    for (const [name, plugin, options] of HEADS)
      for (const { op } of operatorsOf(await exported(plugin, options, name)).nodes) written.add(op);
    expect([...written].sort()).toEqual([...MODEL_OPERATORS].sort());
  });
});
