import {
  createRng,
  ErrorCode,
  h,
  type HyperprotoError,
  HEAD_OPS,
  resolveOptions,
  startHeadParams,
  type HeadDefinition,
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
// the exporter writes, for any head, must be in it, and it should hold nothing the exporter never writes. They also
// refuse a graph whose tensors could cost more than its weights (readOnnxModelInfo's shape check): every model the
// exporter writes must pass it.

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

/** Sizes of an exported model: the defaults above, or the smallest a head takes with top-k over every class. */
interface Sizes {
  readonly width: number;
  readonly classes: number;
  readonly dims: number;
  readonly trainer: Pick<TrainerSettings, 'hiddenUnits' | 'hiddenLayers'>;
  readonly topK: number;
}
const DEFAULT_SIZES: Sizes = { width: WIDTH, classes: CLASSES, dims: 4, trainer, topK: 3 };

/** The head's model at its starting weights (drawn head parameters drawn), exported with top-k. */
async function exported(plugin: HeadPlugin, options: Record<string, unknown>, name: string, sizes = DEFAULT_SIZES): Promise<Uint8Array> {
  const rng = createRng(5);
  const prototypes = plugin.usesPrototypes
    ? await randomPrototypes.generate(
        { seed: 5, rng: rng.fork('prototypes') },
        { classes: sizes.classes, dims: sizes.dims },
        resolveOptions(randomPrototypes, {}),
      )
    : undefined;
  const built = plugin.build(
    prototypes ? { classes: sizes.classes, prototypes } : { classes: sizes.classes },
    resolveOptions(plugin, options),
  );
  return exportHead(startHeadParams(built, rng.fork('head-params')), name, sizes);
}

/** A head's model with seeded starting weights, exported with top-k. */
function exportHead(head: HeadDefinition, name: string, sizes = DEFAULT_SIZES): Uint8Array {
  const { width, classes, trainer } = sizes;
  const weights = initialMlpWeights(mlpShape(width, trainer, head), createRng(5).fork('weights'));
  return exportOnnx({ inputWidth: width, classes, head, weights, trainer }, { metadata: { head: name }, topK: sizes.topK });
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
      // And the runtimes' reader takes it: its operators, and its shapes (no tensor larger than the weights allow).
      expect(readOnnxModelInfo(bytes, name).opset).toBe(17);
    },
  );

  it.each(HEADS.map(([name, plugin, options]) => [name, options, plugin] as const))(
    'an exported %s model (%o) passes the shape check at the smallest sizes too, with top-k over every class',
    async (name, options, plugin) => {
      // One feature, one hidden unit, one-dimensional prototypes, 1,000 classes: scores as wide as the weights allow.
      const tiny: Sizes = { width: 1, classes: 1000, dims: 1, trainer: { hiddenUnits: 1, hiddenLayers: 1 }, topK: 1000 };
      const smallest = { ...options, ...(name === 'bottleneck-softmax' ? { dims: 1 } : {}) };
      expect(readOnnxModelInfo(await exported(plugin, smallest, name, tiny), name).metadata.topK).toBe('1000');
      const bare: Sizes = { width: 1, classes: 2, dims: 1, trainer: { hiddenUnits: 1, hiddenLayers: 0 }, topK: 2 };
      expect(readOnnxModelInfo(await exported(plugin, smallest, name, bare), name).metadata.classes).toBe('2');
    },
  );

  it('a head whose scores use every operation of the head language an export can have passes the shape check', async () => {
    const built = cosineSoftmaxHead.build(
      {
        classes: CLASSES,
        prototypes: await randomPrototypes.generate(
          { seed: 5, rng: createRng(5).fork('prototypes') },
          { classes: CLASSES, dims: 4 },
          resolveOptions(randomPrototypes, {}),
        ),
      },
      resolveOptions(cosineSoftmaxHead, {}),
    );
    const out = h.output();
    const prototypes = h.constant('prototypes');
    const cosines = h.matmulTransposed(h.l2normalize(out), h.l2normalize(h.sampledRows(prototypes)));
    const asIndex = h.rowSum(out);
    // Only the true labels (and the class sample) are training's alone.
    const exportable: HeadOp[] = HEAD_OPS.filter((op) => !['labels', 'sampledLabels'].includes(op));
    const terms: Partial<Record<HeadOp, HeadExpr>> = {
      add: h.add(cosines, h.scalar(1)),
      sub: h.sub(cosines, h.scalar(1)),
      mul: h.mul(h.mul(cosines, h.param('scale', 2)), h.param('offset', { shape: [CLASSES], value: 0.5 })),
      div: h.div(cosines, h.scalar(3)),
      neg: h.neg(cosines),
      log: h.log(h.exp(cosines)),
      pow: h.pow(cosines, 3),
      softmax: h.softmax(cosines),
      logSoftmax: h.logSoftmax(cosines),
      gatherRows: h.matmulTransposed(h.gatherRows(prototypes, asIndex), prototypes),
      pickPerRow: h.mul(cosines, h.mean(h.pickPerRow(cosines, asIndex))),
      oneHot: h.oneHot(asIndex, CLASSES),
    };
    const scores = Object.values(terms).reduce((sum, term) => h.add(sum, term));
    const head: HeadDefinition = { ...built, scores };
    const written = new Set(operatorsOf(exportHead(head, 'every-operation')).nodes.map((node) => node.op));
    // Every head operation that lowers to an operator of its own is in the file.
    for (const op of exportable) expect(JSON.stringify(scores).includes(`"op":"${op}"`), op).toBe(true);
    // All but Identity, which names a result only when the expression is a value the graph already has.
    expect([...written].sort()).toEqual(MODEL_OPERATORS.filter((op) => op !== 'Identity').sort());
    expect(readOnnxModelInfo(exportHead(head, 'every-operation'), 'every-operation').metadata.head).toBe('every-operation');
  });

  it('a head whose scores broadcast two parameters into a tensor larger than the weights is not exported', async () => {
    const built = softmaxHead.build({ classes: CLASSES }, resolveOptions(softmaxHead, {}));
    // [2000, 1] + [1, 2000]: 4,000,000 values from 4,000 weights, which onnxruntime would make at load.
    const outer = h.add(h.param('column', { shape: [2000, 1], value: 0 }), h.param('row', { shape: [1, 2000], value: 0 }));
    const head: HeadDefinition = { ...built, scores: h.add(built.scores, h.mean(outer)) };
    const error = (() => {
      try {
        exportHead(startHeadParams(head, createRng(5)), 'outer-sum');
      } catch (caught) {
        return caught as HyperprotoError;
      }
      throw new Error('expected the export to be refused');
    })();
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toMatch(
      /^cannot export to ONNX: the runtimes would refuse the file: the outer-sum model is not a usable ONNX model: .*4,000,000/,
    );
    expect(error.hint).toMatch(/outer-sum head's score expression/);
  });

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
