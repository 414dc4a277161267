import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createSession } from './index.js';
import { loadOrtSession } from './model-session.js';

// Model files made to harm whoever loads them: what reading one could leak, hang or answer. This package does not
// depend on the exporter or its graph builder, so the files are written here field by field.

type Bytes = number[];
const utf8 = new TextEncoder();

function varint(value: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: Bytes = [];
  for (; v >= 0x80n; v >>= 7n) out.push(Number(v & 0x7fn) | 0x80);
  return [...out, Number(v)];
}
const int = (field: number, value: number | bigint): Bytes => [...varint(field * 8), ...varint(value)];
const bytes = (field: number, body: Bytes | string): Bytes => {
  const b = typeof body === 'string' ? [...utf8.encode(body)] : body;
  return [...varint(field * 8 + 2), ...varint(b.length), ...b];
};

/** ONNX TensorProto.DataType numbers. */
const TYPES = { float32: 1, uint8: 2, int64: 7, bool: 9, float64: 11 } as const;
type Dim = number | string;

/** A GraphProto: nodes (1), initializers (5), inputs (11) and outputs (12), in onnx.proto's numbering. */
class Graph {
  private readonly parts: Bytes[] = [];
  private count = 0;

  /** A node of the default domain unless `domain`; returns its outputs. Attributes are integers or a graph. */
  node(
    op: string,
    inputs: readonly string[],
    attributes: Record<string, number | Graph> = {},
    options: { outputs?: readonly string[]; domain?: string } = {},
  ): readonly string[] {
    const outputs = options.outputs ?? [`${op.toLowerCase()}_${this.count++}`];
    const attribute = ([name, value]: [string, number | Graph]) =>
      bytes(5, [
        ...bytes(1, name),
        ...(typeof value === 'number' ? [...int(3, value), ...int(20, 2)] : [...bytes(6, value.bytes()), ...int(20, 5)]),
      ]);
    this.parts.push(
      bytes(1, [
        ...inputs.flatMap((input) => bytes(1, input)),
        ...outputs.flatMap((output) => bytes(2, output)),
        ...bytes(3, `${op}_${outputs[0]}`),
        ...bytes(4, op),
        ...Object.entries(attributes).flatMap(attribute),
        ...(options.domain ? bytes(7, options.domain) : []),
      ]),
    );
    return outputs;
  }

  /** One output of a node. */
  op(op: string, inputs: readonly string[], attributes: Record<string, number | Graph> = {}): string {
    return this.node(op, inputs, attributes)[0]!;
  }

  /** A constant in the file, or (external) read by onnxruntime from another file. */
  initializer(name: string, dims: readonly number[], values: Float32Array | BigInt64Array | Uint8Array, external?: string): string {
    const type = values instanceof Float32Array ? TYPES.float32 : values instanceof Uint8Array ? TYPES.uint8 : TYPES.int64;
    const data = external
      ? [
          ...[
            ['location', external],
            ['offset', '0'],
            ['length', String(values.byteLength)],
          ].flatMap(([key, value]) => bytes(13, [...bytes(1, key!), ...bytes(2, value!)])),
          ...int(14, 1),
        ]
      : bytes(9, [...new Uint8Array(values.buffer, values.byteOffset, values.byteLength)]);
    this.parts.push(bytes(5, [...dims.flatMap((d) => int(1, d)), ...int(2, type), ...bytes(8, name), ...data]));
    return name;
  }

  scalar(value: number): string {
    return this.initializer(`f${this.count++}`, [], Float32Array.of(value));
  }

  ints(...values: number[]): string {
    return this.initializer(`i${this.count++}`, [values.length], BigInt64Array.from(values, BigInt));
  }

  /** A sparse initializer (15) whose dense form is [size], all zeros but its first value, 1. */
  sparse(name: string, size: number): string {
    const values = [...int(1, 1), ...int(2, TYPES.float32), ...bytes(8, name), ...bytes(9, [0, 0, 0x80, 0x3f])];
    const indices = [...int(1, 1), ...int(2, TYPES.int64), ...bytes(9, [0, 0, 0, 0, 0, 0, 0, 0])];
    this.parts.push(bytes(15, [...bytes(1, values), ...bytes(2, indices), ...int(3, size)]));
    return name;
  }

  /** A graph input; `typeProto`, a TypeProto's bytes, instead of a tensor of `type` and `shape`. */
  input(name: string, type: keyof typeof TYPES, shape: readonly Dim[], typeProto?: Bytes): void {
    this.parts.push(bytes(11, typeProto ? [...bytes(1, name), ...bytes(2, typeProto)] : valueInfo(name, type, shape)));
  }

  output(name: string, type: keyof typeof TYPES, shape: readonly Dim[]): void {
    this.parts.push(bytes(12, valueInfo(name, type, shape)));
  }

  bytes(): Bytes {
    return [...bytes(2, 'g'), ...this.parts.flat()];
  }
}

/** TypeProto.Tensor (and SparseTensor, alike): 1 elem_type, 2 shape { 1 dim { 1 value | 2 param } }. */
function tensorType(type: keyof typeof TYPES, shape: readonly Dim[]): Bytes {
  return [
    ...int(1, TYPES[type]),
    ...bytes(
      2,
      shape.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : bytes(2, d))),
    ),
  ];
}

/** ValueInfoProto: 1 name, 2 TypeProto { 1 tensor_type }. */
function valueInfo(name: string, type: keyof typeof TYPES, shape: readonly Dim[]): Bytes {
  return [...bytes(1, name), ...bytes(2, bytes(1, tensorType(type, shape)))];
}

/** ModelProto: 1 ir_version, 2 producer_name, 7 graph, 8 opset_import, 14 metadata_props. */
function model(graph: Graph, options: { irVersion?: number; metadata?: Record<string, string>; opsets?: Record<string, number> } = {}) {
  return Uint8Array.from([
    ...int(1, options.irVersion ?? 8),
    ...bytes(2, 'hostile'),
    ...bytes(7, graph.bytes()),
    ...Object.entries(options.opsets ?? { '': 17 }).flatMap(([domain, version]) => bytes(8, [...bytes(1, domain), ...int(2, version)])),
    ...Object.entries(options.metadata ?? {}).flatMap(([key, value]) => bytes(14, [...bytes(1, key), ...bytes(2, value)])),
  ]);
}

/** W [4, 3]: features 0-2 score their own class, feature 3 all three alike. */
const W = Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0.5);

/**
 * A classifier of the model contract's operators, `scores` = features x W and `label` = their argmax, whose
 * `lie` may change either; `trigger` [N, 1] is 0 for a row whose feature 0 is at most 10 (every self-check row: they
 * are about ±1.5) and feature 0 - 10 above it, so the file passes the check at load and lies to a request.
 */
function classifier(
  lie: {
    scores?: (g: Graph, scores: string, trigger: string, x: string) => string;
    label?: (g: Graph, scores: string, trigger: string) => string;
  } = {},
  options: {
    inputShape?: readonly Dim[];
    scoresShape?: readonly Dim[];
    weights?: string;
    metadata?: Record<string, string>;
    irVersion?: number;
  } = {},
): Uint8Array {
  const g = new Graph();
  g.input('features', 'float32', options.inputShape ?? ['N', 4]);
  const honest = g.op('Gemm', ['features', options.weights ?? g.initializer('W', [4, 3], W)]);
  const first = g.op('Gather', ['features', g.ints(0)], { axis: 1 });
  const trigger = g.op('Relu', [g.op('Sub', [first, g.scalar(10)])]);
  const scores = lie.scores ? lie.scores(g, honest, trigger, first) : honest;
  g.node('Identity', [scores], {}, { outputs: ['scores'] });
  const label = lie.label ? lie.label(g, 'scores', trigger) : g.op('ArgMax', ['scores'], { axis: 1, keepdims: 0 });
  g.node('Identity', [label], {}, { outputs: ['label'] });
  g.output('scores', 'float32', options.scoresShape ?? ['N', 3]);
  g.output('label', 'int64', ['N']);
  return model(g, { metadata: { classes: '3', ...options.metadata }, ...(options.irVersion ? { irVersion: options.irVersion } : {}) });
}

/** label = the argmax, plus (or minus) 100,000 for each unit of feature 0 above 10. */
const shiftedLabel = (op: 'Add' | 'Sub') => (g: Graph, scores: string, trigger: string) => {
  const best = g.op('ArgMax', [scores], { axis: 1, keepdims: 1 });
  const shift = g.op('Cast', [g.op('Mul', [trigger, g.scalar(100_000)])], { to: TYPES.int64 });
  return g.op('Squeeze', [g.op(op, [best, shift]), g.ints(1)]);
};

const HONEST_ROW = [1, 0, 0.25, 0];

/** What onnxruntime itself makes of a file the runtime refuses: its input as it reads it, and one run on `rows` honest rows. */
async function runUnchecked(bytes: Uint8Array, rows = 1): Promise<{ input: unknown; outputs: Record<string, ort.Tensor> }> {
  const plain = await ort.InferenceSession.create(bytes);
  try {
    const features = Float32Array.from(Array.from({ length: rows }, () => HONEST_ROW).flat());
    const outputs = (await plain.run({ features: new ort.Tensor('float32', features, [rows, 4]) })) as Record<string, ort.Tensor>;
    return { input: plain.inputMetadata[0], outputs };
  } finally {
    await plain.release();
  }
}
const TRIGGER_ROW = [20, 0, 0, 0];

describe('a model file that reads other files is refused before onnxruntime loads it', () => {
  // The probe's exfiltration model: its weights are 48 bytes of a file in the server's working directory, which
  // the scores of the rows [1,0,0,0], [0,1,0,0], ... give back to any client. The tests run where package.json is.
  const g = new Graph();
  g.input('features', 'float32', ['N', 4]);
  g.node('Gemm', ['features', g.initializer('W', [4, 3], new Float32Array(12), 'package.json')], {}, { outputs: ['scores'] });
  g.node('ArgMax', ['scores'], { axis: 1, keepdims: 0 }, { outputs: ['label'] });
  g.output('scores', 'float32', ['N', 3]);
  g.output('label', 'int64', ['N']);
  const exfiltrating = model(g, { metadata: { classes: '3' } });

  it('names the tensor and the file, and says where the weights belong', async () => {
    await expect(createSession(exfiltrating, { source: 'exfil.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'exfil.onnx is not a usable ONNX model: the initializer "W" takes its values from the external file "package.json", which onnxruntime would read from the disk of the machine that loads the model; hyperproto\'s models keep their weights inside the .onnx file',
    });
  });

  it('and onnxruntime, should such a file get past the reader, finds nothing to read', async () => {
    // What onnxruntime does with the file by itself: the scores are the file's bytes.
    const plain = await ort.InferenceSession.create(exfiltrating);
    try {
      const identity = Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
      const { scores } = await plain.run({ features: new ort.Tensor('float32', identity, [4, 4]) });
      const leaked = Buffer.from((scores!.data as Float32Array).buffer).toString('latin1');
      expect(leaked).toBe(readFileSync('package.json', 'latin1').slice(0, 48));
    } finally {
      await plain.release();
    }
    // The runtime's sessions look for external data in an empty folder made for the load.
    await expect(loadOrtSession(exfiltrating, { executionProviders: ['cpu'] })).rejects.toThrow(
      /External data path does not exist: .*hyperproto-no-external-data-[^/]*\/package\.json/,
    );
  });
});

describe('a model file whose operators could run without end, or run unknown code, is refused at once', () => {
  it('a Loop of 2^62 iterations, naming the node and the operator', async () => {
    const body = new Graph();
    body.input('i', 'int64', []);
    body.input('condition', 'bool', []);
    body.input('count', 'float32', []);
    body.node('Identity', ['condition'], {}, { outputs: ['again'] });
    body.node('Add', ['count', body.scalar(1)], {}, { outputs: ['counted'] });
    body.output('again', 'bool', []);
    body.output('counted', 'float32', []);
    const looping = classifier({
      scores: (g, scores) => {
        const trips = g.initializer('trips', [], BigInt64Array.of(2n ** 62n));
        const [total] = g.node('Loop', [trips, '', g.scalar(0)], { body }, { outputs: ['total'] });
        return g.op('Add', [scores, g.op('Mul', [total!, g.scalar(0)])]);
      },
    });
    const started = performance.now();
    await expect(createSession(looping, { source: 'loop.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: 'loop.onnx is not a usable ONNX model: the node "Loop_total" runs the operator "Loop", which no hyperproto model uses',
    });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a custom operator, naming its domain', async () => {
    const custom = classifier({ scores: (g, scores) => g.node('Evil', [scores], {}, { outputs: ['evil'], domain: 'com.evil' })[0]! });
    await expect(createSession(custom, { source: 'custom.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'custom.onnx is not a usable ONNX model: the node "Evil_evil" runs the operator "Evil" of the domain "com.evil"; a hyperproto model uses only the default ONNX domain',
    });
  });
});

describe('a model file whose metadata asks for a huge input is refused before anything of that size is made', () => {
  it.each([200_000_000, 1e12])('inputWidth %d on an input of dynamic width', async (width) => {
    const g = new Graph();
    g.input('features', 'float32', ['N', 'W']);
    g.node('Gemm', ['features', g.initializer('W', [4, 3], W)], {}, { outputs: ['scores'] });
    g.output('scores', 'float32', ['N', 3]);
    const started = performance.now();
    await expect(createSession(model(g, { metadata: { inputWidth: String(width) } }), { source: 'wide.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: `wide.onnx is not a classifier this runtime can serve: its input "features" would take ${width} features (from its metadata inputWidth), more than the 1,000,000 a runtime takes`,
    });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('a model file whose tensors would cost more than the file holds is refused before onnxruntime loads it', () => {
  // Sizes that would be harmless should the check let them through: a few hundred kilobytes.
  it('a broadcast of two initializers [400, 1] and [1, 400], which onnxruntime would make at load', async () => {
    // onnxruntime folds a node of initializers into a new initializer when it loads the file: N x M values of a file
    // of N + M weights (50,000 of each would ask for 10 GB).
    const broadcast = classifier({
      scores: (g, scores) => {
        const weights = (name: string, dims: number[]) => g.initializer(name, dims, new Float32Array(400).fill(1));
        const [big] = g.node('Add', [weights('A', [400, 1]), weights('B', [1, 400])], {}, { outputs: ['big'] });
        g.output('big', 'float32', [400, 400]);
        return g.op('Add', [scores, g.op('Mul', [g.op('ReduceSum', [big!], { keepdims: 0 }), g.scalar(0)])]);
      },
    });
    const started = performance.now();
    await expect(createSession(broadcast, { source: 'broadcast.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'broadcast.onnx is not a usable ONNX model: the node "Add_big" (Add) makes "big" of shape [400, 400] from initializers alone: 160,000 values, more than the 815 values the file\'s initializers hold; onnxruntime would make it when it loads the file, and no graph hyperproto\'s exporter writes makes a tensor larger than its weights',
      hint: expect.stringMatching(
        /^A hyperproto model's input is a float32 tensor \[N, width\], .* its graph gives every tensor before a node reads it/,
      ),
    });
    expect(performance.now() - started).toBeLessThan(1000);
    // What onnxruntime does with the file by itself: 160,000 values of 800 weights.
    const { big } = (await runUnchecked(broadcast)).outputs;
    expect(big!.dims).toEqual([400, 400]);
  });

  it('a tensor whose size grows with the square of the rows: every row paired with every other', async () => {
    // features [N, 1, 4] - features [1, N, 4]: a request of 10,000 rows would ask for 1.6 GB.
    const squared = classifier({
      scores: (g, scores) => {
        const a = g.op('Unsqueeze', ['features', g.ints(1)]);
        const b = g.op('Unsqueeze', ['features', g.ints(0)]);
        const [pairs] = g.node('Sub', [a, b], {}, { outputs: ['pairs'] });
        g.output('pairs', 'float32', ['N', 'N', 4]);
        return g.op('Add', [scores, g.op('Mul', [g.op('ReduceSum', [pairs!], { keepdims: 0 }), g.scalar(0)])]);
      },
    });
    await expect(createSession(squared, { source: 'squared.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'squared.onnx is not a usable ONNX model: the node "Sub_pairs" (Sub) makes "pairs" of shape [rows, rows, 4], whose size grows with the square of the batch\'s rows; no tensor of a hyperproto model does (each row is answered on its own)',
    });
    const { pairs } = (await runUnchecked(squared, 3)).outputs;
    expect(pairs!.dims).toEqual([3, 3, 4]);
  });
});

describe('the self-check at load runs in parts of runBytes, as any batch', () => {
  // Squeezing the batch axis fails for more than one row: a file that can run one row at a time, and no more.
  const oneRowAtATime = classifier({ scores: (g, scores) => g.op('Unsqueeze', [g.op('Squeeze', [scores, g.ints(0)]), g.ints(0)]) });

  it('so that a file whose runs must hold one row loads, and answers row by row', async () => {
    await expect(createSession(oneRowAtATime, { source: 'one-row.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(/^onnxruntime loads one-row\.onnx but cannot run it: .*Squeeze/),
    });
    // runBytes of 1 leaves room for one row per run: the 8 self-check rows run one by one.
    const session = await createSession(oneRowAtATime, { source: 'one-row.onnx', runBytes: 1 });
    try {
      expect(session.rowsPerRun).toBe(1);
      expect((await session.predict([HONEST_ROW, [0, 0, 2, 0], [0, 3, 0, 0]])).labels).toEqual(Int32Array.of(0, 2, 1));
    } finally {
      await session.release();
    }
  });
});

describe('a model file that shows the checks one thing and onnxruntime another is refused for what onnxruntime would do', () => {
  it('a sparse initializer, which onnxruntime makes dense at load: 100,000 values from a few dozen bytes', async () => {
    const sparse = classifier({
      scores: (g, scores) => {
        const [big] = g.node('Identity', [g.sparse('S', 100_000)], {}, { outputs: ['big'] });
        g.output('big', 'float32', [100_000]);
        return g.op('Add', [scores, g.op('Mul', [g.op('ReduceSum', [big!], { keepdims: 0 }), g.scalar(0)])]);
      },
    });
    await expect(createSession(sparse, { source: 'sparse.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'sparse.onnx is not a usable ONNX model: the sparse initializer "S" would be made dense when onnxruntime loads the file, so a few bytes of it can ask for gigabytes; hyperproto\'s exporter writes no sparse tensors',
    });
    const { big } = (await runUnchecked(sparse)).outputs;
    expect(big!.dims).toEqual([100_000]);
    expect((big!.data as Float32Array)[0]).toBe(1);
  });

  it("an input typed twice: onnxruntime reads the last member of the type's oneof, and so does the check", async () => {
    // A sparse tensor [1, 4] written before the tensor [N, 4] onnxruntime reads: read as one shape, the input looked
    // fixed, [1, 4, N, 4], and every row paired with every other passed the check.
    const g = new Graph();
    g.input('features', 'float32', [], [...bytes(8, tensorType('float32', [1, 4])), ...bytes(1, tensorType('float32', ['N', 4]))]);
    const a = g.op('Unsqueeze', ['features', g.ints(1)]);
    const b = g.op('Unsqueeze', ['features', g.ints(0)]);
    const [pairs] = g.node('Sub', [a, b], {}, { outputs: ['pairs'] });
    g.node('ReduceSum', [pairs!, g.ints(1)], { keepdims: 0 }, { outputs: ['scores'] });
    g.node('ArgMax', ['scores'], { axis: 1, keepdims: 0 }, { outputs: ['label'] });
    g.output('scores', 'float32', ['N', 4]);
    g.output('label', 'int64', ['N']);
    g.output('pairs', 'float32', ['N', 'N', 4]);
    const typedTwice = model(g, { metadata: { classes: '4' } });
    await expect(createSession(typedTwice, { source: 'twice.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'twice.onnx is not a usable ONNX model: the node "Sub_pairs" (Sub) makes "pairs" of shape [rows, rows, 4], whose size grows with the square of the batch\'s rows; no tensor of a hyperproto model does (each row is answered on its own)',
    });
    const { input, outputs } = await runUnchecked(typedTwice, 3);
    expect(input).toMatchObject({ isTensor: true, type: 'float32', shape: ['N', 4] });
    expect(outputs.pairs!.dims).toEqual([3, 3, 4]);
  });

  it('uint8 weights cast to float64: 8 bytes of memory for each byte of the file', async () => {
    const widened = classifier({
      scores: (g, scores) => {
        const [wide] = g.node(
          'Cast',
          [g.initializer('u', [1000], new Uint8Array(1000).fill(1))],
          { to: TYPES.float64 },
          { outputs: ['wide'] },
        );
        g.output('wide', 'float64', [1000]);
        const sum = g.op('Cast', [g.op('ReduceSum', [wide!], { keepdims: 0 })], { to: TYPES.float32 });
        return g.op('Add', [scores, g.op('Mul', [sum, g.scalar(0)])]);
      },
    });
    await expect(createSession(widened, { source: 'cast.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message:
        'cast.onnx is not a usable ONNX model: the initializer "u" holds uint8 values; hyperproto\'s exporter writes only float32 initializers (the weights) and int64 ones (axes, top-k\'s k, class indices), and this check counts values, which a cast from a narrower type would widen',
    });
    expect((await runUnchecked(widened)).outputs.wide).toMatchObject({ type: 'float64', dims: [1000] });
  });
});

describe('onnxruntime load failures', () => {
  it('name the IR version onnxruntime reads only when that is what it refused', async () => {
    const error = await createSession(classifier({}, { irVersion: 99 }), { source: 'ir99.onnx' }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^onnxruntime cannot load ir99\.onnx: .*Unsupported model IR version: 99, max supported IR version: 13$/,
      ),
      hint: 'This onnxruntime-node reads ONNX IR versions up to 13, and the file has IR version 99: export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`.',
    });
    // Scores plus int64 weights, a type onnxruntime refuses: not a matter of IR versions.
    const mixed = classifier({ scores: (g, scores) => g.op('Add', [scores, g.initializer('ints', [3], BigInt64Array.of(1n, 2n, 3n))]) });
    const broken = await createSession(mixed, { source: 'broken.onnx' }).catch((e: unknown) => e);
    expect(broken).toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(/^onnxruntime cannot load broken\.onnx: /),
      hint: 'The file is not a model written by exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`, or it was changed since; export it again.',
    });
  });
});

describe('onnxruntime run failures at load', () => {
  it("keep onnxruntime's lines that say what it refused, not only its first", async () => {
    // A batch fixed at one row: the self-check's 8 rows do not fit.
    const fixedBatch = classifier({}, { inputShape: [1, 4], scoresShape: [1, 3] });
    const error = await createSession(fixedBatch, { source: 'fixed-batch-1.onnx' }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^onnxruntime loads fixed-batch-1\.onnx but cannot run it: Got invalid dimensions for input: features for the following indices; index: 0 Got: 8 Expected: 1(; |$)/,
      ),
    });
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('every answer is held to the model contract', () => {
  it('at load: a label output that is not the best-scoring class, of the contract operators', async () => {
    const liar = classifier({
      label: (g, scores) =>
        g.op('Cast', [g.op('Mul', [g.op('ReduceSum', [scores, g.ints(1)], { keepdims: 0 }), g.scalar(0)])], { to: TYPES.int64 }),
    });
    await expect(createSession(liar, { source: 'liar.onnx' })).rejects.toMatchObject({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^liar\.onnx is not a classifier this runtime can serve: its label output is not the best-scoring class: row \d+ has label 0 \(score -?[\d.e-]+\) but the best score is [\d.e-]+$/,
      ),
      hint: expect.stringMatching(/label \[N\] = their argmax/),
    });
  });

  // Files that answer the self-check's rows honestly and lie when feature 0 is above 10: at a prediction the fault
  // is the model's, E_INTERNAL (a server answers 500), and no part of the batch is returned.
  it.each<[string, Parameters<typeof classifier>[0], Parameters<typeof classifier>[1], string]>([
    [
      'a label beyond the classes',
      { label: shiftedLabel('Add') },
      {},
      'its label output is not a class index: row 1 has label 1000000, but the model has 3 classes (0 to 2)',
    ],
    [
      'a negative label',
      { label: shiftedLabel('Sub') },
      {},
      'its label output is not a class index: row 1 has label -1000000, but the model has 3 classes (0 to 2)',
    ],
    [
      'a label that is not the best score',
      // Scores times 1 - 2 x trigger: the argmax of -19 x the scores, the worst class.
      {
        label: (g, scores, trigger) =>
          g.op('ArgMax', [g.op('Mul', [scores, g.op('Sub', [g.scalar(1), g.op('Mul', [trigger, g.scalar(2)])])])], {
            axis: 1,
            keepdims: 0,
          }),
      },
      {},
      'its label output is not the best-scoring class: row 1 has label 1 (score 0) but the best score is 20',
    ],
    [
      'scores of the wrong length',
      // TopK with k = 3 - min(1, sum of the triggers): 2 columns instead of 3 for a batch with a trigger row.
      {
        scores: (g, scores, trigger) => {
          const fired = g.op('Neg', [g.op('Max', [g.op('Neg', [g.op('ReduceSum', [trigger], { keepdims: 0 })]), g.scalar(-1)])]);
          const k = g.op('Unsqueeze', [g.op('Cast', [g.op('Sub', [g.scalar(3), fired])], { to: TYPES.int64 }), g.ints(0)]);
          return g.node('TopK', [scores, k], { axis: 1 }, { outputs: ['top', 'top_classes'] })[0]!;
        },
      },
      { scoresShape: ['N', 'C'] },
      'its score output gave 4 values for 2 rows of 3 classes',
    ],
  ])('at a prediction: %s', async (_, lie, options, why) => {
    const session = await createSession(classifier(lie, options), { source: 'lie.onnx' });
    try {
      expect((await session.predict([HONEST_ROW])).labels).toEqual(Int32Array.of(0));
      await expect(session.predict([HONEST_ROW, TRIGGER_ROW])).rejects.toMatchObject({
        name: 'HyperprotoError',
        code: 'E_INTERNAL',
        message: `lie.onnx gave answers that break its own interface for this batch: ${why}`,
      });
      // The session still answers the rows it answers honestly.
      expect((await session.predict([HONEST_ROW], { scores: false })).labels).toEqual(Int32Array.of(0));
    } finally {
      await session.release();
    }
  });

  // Scores that are not finite are what an honest model gives for features far beyond its training data (±3e38):
  // the input's doing, so the row is answered as the model gave it, and the batch's other rows are answered.
  it.each<[string, Parameters<typeof classifier>[0], number[], number]>([
    [
      'NaN scores',
      { scores: (g, scores, _, x) => g.op('Add', [scores, g.op('Mul', [g.op('Sqrt', [g.op('Sub', [g.scalar(10), x])]), g.scalar(0)])]) },
      [1, 0, 0.25],
      Number.NaN,
    ],
    [
      'infinite scores',
      // Plus 1 / (10 - feature 0): a ninth on the honest row.
      { scores: (g, scores, _, x) => g.op('Add', [scores, g.op('Reciprocal', [g.op('Relu', [g.op('Sub', [g.scalar(10), x])])])]) },
      [1 + 1 / 9, 1 / 9, 0.25 + 1 / 9],
      Number.POSITIVE_INFINITY,
    ],
  ])('at a prediction: %s are let through for their row', async (_, lie, honest, score) => {
    const session = await createSession(classifier(lie), { source: 'overflow.onnx' });
    try {
      const { labels, scores } = await session.predict([HONEST_ROW, TRIGGER_ROW]);
      expect(labels[0]).toBe(0);
      honest.forEach((value, c) => expect(scores![c]).toBeCloseTo(value, 6));
      expect([...scores!.subarray(3)]).toEqual([score, score, score]);
      expect([0, 1, 2]).toContain(labels[1]);
    } finally {
      await session.release();
    }
  });
});
