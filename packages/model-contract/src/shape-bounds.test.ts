import { describe, expect, it } from 'vitest';
import { MAX_INPUT_WIDTH, MODEL_OPERATORS } from './index.js';
import { MAX_RANK, NODE_VALUES_FACTOR, SHAPE_RULE_OPERATORS } from './shape-bounds.js';
import { MAX_GRAPH_ENTRIES, MAX_NODE_ENTRIES, readOnnxModel } from './onnx-model-info.js';
import { everyOperatorModel } from './test-support/graphs.js';
import { refusalOf } from './test-support/refusal.js';
import {
  bytesField,
  graphProto,
  modelProto,
  nodeProto,
  numberField,
  tensorProto,
  tensorTypeProto,
  TestGraph,
  typeProto,
} from './test-support/protobuf.js';

/** The message of readOnnxModelInfo's refusal (with the shape check's hint); undefined if it reads the file. */
const refusal = (bytes: Uint8Array) =>
  refusalOf(
    bytes,
    /^A hyperproto model's input is a float32 tensor \[N, width\], its initializers are float32 or int64, its graph gives every tensor before a node reads it, and none of its tensors holds more values \(per row of the batch\) than the larger of its weights and its input's width\. Export the model again with exportOnnx/,
  );

/** features [N, 4] (or `dims`; 'unshaped': no shape) and a dense layer W [4, 3]: 12 weights. */
function dense(dims: readonly (number | string | null)[] | 'unshaped' = ['N', 4]): { g: TestGraph; hidden: string } {
  const g = new TestGraph();
  const hidden = g.node('Gemm', [g.input('features', dims === 'unshaped' ? undefined : dims), g.floats('W', [4, 3])], 'hidden');
  return { g, hidden };
}

describe('the shape pass', () => {
  it('has a rule for exactly the operators of the model contract', () => {
    expect([...SHAPE_RULE_OPERATORS].sort()).toEqual([...MODEL_OPERATORS].sort());
    expect([...everyOperatorModel().operators].sort()).toEqual([...MODEL_OPERATORS].sort());
  });

  it('reads a graph of every operator, as the exporter writes them, and what its tensors come to', () => {
    // 36 weights: W 12, b 3, prototypes 15, and six one-value constants (the floor, 2, k and three axes).
    // Per row: 16 values to the unit vector, 10 tensors of the 5 cosines, 11 of one value or three, top-k's 2 x 5;
    // with the 4 features, 91 values a row.
    const { info, shapes } = readOnnxModel(everyOperatorModel().bytes);
    expect(shapes).toEqual({ weights: 36, bound: 36, largest: 5, folded: 0, total: 87, valuesPerRow: 91 });
    expect(info.valuesPerRow).toBe(91);
  });

  it('takes axes as an attribute (before opset 13, ReduceMean before 18) or as an int64 input, raw or int64_data', () => {
    for (const encoding of ['raw', 'packed', 'unpacked'] as const) {
      const { g, hidden } = dense();
      const column = g.node('Unsqueeze', [hidden, g.ints('axes2', [-1], encoding)], 'column');
      const summed = g.node('ReduceSum', [column, g.ints('axes12', [1, 2], encoding)], 'summed', { keepdims: 0 });
      g.node('Squeeze', [g.node('ReduceMean', [column], 'mean', { axes: [1], keepdims: 1 }), g.ints('axes1', [1], encoding)], 'squeezed');
      g.node('Add', [summed, g.node('Squeeze', ['squeezed'], 'flat', { axes: [-1] })], 'sum');
      // [rows, 3], [rows, 3, 1], [rows], [rows, 1, 1], [rows, 1], [rows], [rows]: 11 values per row. int64_data
      // counts a value for each 8 bytes: -1 takes 10 (one value), 1 and 2 one each (none).
      expect(readOnnxModel(g.model()).shapes).toMatchObject({ weights: encoding === 'raw' ? 16 : 13, largest: 3, total: 11 });
    }
    // Opset 11: every axis an attribute, ReduceSum's too; no axes: every axis, or none with noop_with_empty_axes.
    const { g, hidden } = dense();
    const column = g.node('Unsqueeze', [hidden], 'column', { axes: [2] });
    g.node('ReduceSum', [column], 'sums', { axes: [0, 2], keepdims: 1 });
    g.node('ReduceSum', [column], 'all', { keepdims: 0 });
    g.node('ReduceSum', [column, ''], 'none', { noop_with_empty_axes: 1 });
    g.node('Squeeze', [column], 'squeezed', { axes: [2] });
    // 3 + 3 + 3 ([1, 3, 1]: the batch reduced) + 1 + 3 + 3.
    expect(readOnnxModel(g.model({ opset: 11 })).shapes).toMatchObject({ weights: 12, total: 16 });
  });

  it('takes a fixed batch as the batch, Gemm with either operand transposed, Gather and GatherElements', () => {
    // A batch fixed at 1,000 rows is still the rows a runtime feeds: [rows, 3] counts 3 a row, not 3,000 (which
    // would be more than the 12 weights and refuse an honest model).
    for (const batch of [1000, 1, 0, -1]) {
      const fixed = dense([batch, 4]);
      expect(readOnnxModel(fixed.g.model()).shapes).toMatchObject({ weights: 12, bound: 12, largest: 3, total: 3, valuesPerRow: 7 });
    }
    const { g, hidden } = dense();
    // hidden [rows, 3] x prototypes [7, 3] transposed: [rows, 7]; V [3, 2] transposed x U [3, 5]: [2, 5].
    const cosines = g.node('Gemm', [hidden, g.floats('prototypes', [7, 3])], 'cosines', { transB: 1 });
    g.node('Gemm', [g.floats('V', [3, 2]), g.floats('U', [3, 5])], 'outer', { transA: 1 });
    const label = g.node('ArgMax', [cosines], 'label', { axis: -1, keepdims: 0 });
    g.node('Gather', ['prototypes', label], 'rows', { axis: 0 });
    g.node('GatherElements', [cosines, g.node('Unsqueeze', [label, g.ints('axis1', [1])], 'column')], 'picked', { axis: 1 });
    // Per row: 3 + 7 + 1 + 3 + 1 + 1; once: V^T U, [2, 5], from initializers alone.
    expect(readOnnxModel(g.model()).shapes).toEqual({ weights: 55, bound: 55, largest: 10, folded: 10, total: 16, valuesPerRow: 20 });
  });

  it('takes a dynamic width from metadata inputWidth, an input without a shape as [rows, width], and initializers listed as inputs', () => {
    const { g } = dense(['N', 'width']);
    g.node('Unsqueeze', ['features', g.ints('axes', [2])], 'column');
    // The width is the metadata's: [rows, 4, 1] per row is 4; with another, the bound would be that.
    expect(readOnnxModel(g.model({ metadata: { inputWidth: '4' } })).shapes).toMatchObject({ weights: 13, bound: 13, largest: 4 });
    expect(readOnnxModel(g.model({ metadata: { inputWidth: ' 40 ' } })).shapes).toMatchObject({ bound: 40, largest: 40 });
    // No usable width: the runtimes refuse the file before a row is fed, so the width counts as 1.
    for (const width of [undefined, '4.5', String(MAX_INPUT_WIDTH + 1)])
      expect(readOnnxModel(g.model(width === undefined ? {} : { metadata: { inputWidth: width } })).shapes.largest).toBe(3);
    const unshaped = dense('unshaped');
    expect(readOnnxModel(unshaped.g.model({ metadata: { inputWidth: '4' } })).shapes).toMatchObject({ total: 3 });
    const listed = dense();
    listed.g.input('W', [4, 3]);
    expect(readOnnxModel(listed.g.model()).shapes).toMatchObject({ weights: 12, total: 3 });
  });

  it(`stays linear in the size of the graph: a Max of ${MAX_NODE_ENTRIES} inputs, ${MAX_GRAPH_ENTRIES - 1} nodes in a chain`, () => {
    const g = new TestGraph();
    g.floats('Q', [24_999]);
    const p = g.floats('P', [1]);
    let t = g.node('Max', new Array<string>(MAX_NODE_ENTRIES).fill(p), 'max');
    for (let i = 1; i < MAX_GRAPH_ENTRIES; i++) t = g.node('Neg', [t], `n${i}`);
    const started = performance.now();
    expect(readOnnxModel(g.model()).shapes).toEqual({
      weights: 25_000,
      bound: 25_000,
      largest: 1,
      folded: MAX_GRAPH_ENTRIES,
      total: 0,
      valuesPerRow: 0,
    });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('skips optional inputs left out, and reads every copy of the graph as one', () => {
    const { g, hidden } = dense();
    g.node('Gemm', [hidden, g.floats('V', [3, 2]), ''], 'out');
    expect(readOnnxModel(g.model()).shapes.total).toBe(5);
    // The second copy's node reads the first copy's output.
    const first = graphProto({
      nodes: [nodeProto({ op: 'Relu', name: 'r', inputs: ['W'], outputs: ['r'] })],
      initializers: [tensorProto({ name: 'W', dims: [2, 2], raw: new Array<number>(16).fill(0) })],
    });
    const second = bytesField(7, graphProto({ nodes: [nodeProto({ op: 'Neg', name: 'n', inputs: ['r'], outputs: ['n'] })] }));
    expect(readOnnxModel(modelProto({ irVersion: 8, graph: first, extra: second })).shapes).toMatchObject({ weights: 4, folded: 8 });
  });
});

describe('the shape pass refuses a graph whose tensors could cost more than the file holds', () => {
  it('a broadcast of two initializers [N, 1] and [1, M] to N x M values, which onnxruntime would make at load', () => {
    const g = new TestGraph();
    g.node('Add', [g.floats('A', [4000, 1]), g.floats('B', [1, 4000])], 'big');
    expect(refusal(g.model())).toBe(
      'the node "big" (Add) makes "big" of shape [4000, 4000] from initializers alone: 16,000,000 values, more than the 8,000 values the file\'s initializers hold; onnxruntime would make it when it loads the file, and no graph hyperproto\'s exporter writes makes a tensor larger than its weights',
    );
  });

  it('a tensor that costs each row more than the weights: the features [rows, 4, 1] times 1,000 weights', () => {
    const { g } = dense();
    const column = g.node('Unsqueeze', ['features', g.ints('axes', [2])], 'column');
    g.node('Mul', [column, g.floats('M', [1, 1000])], 'outer');
    expect(refusal(g.model())).toBe(
      'the node "outer" (Mul) makes "outer" of shape [rows, 4, 1000]: 4,000 values per row of the batch, more than the 1,013 values the file\'s initializers hold; no tensor of a graph hyperproto\'s exporter writes holds more',
    );
    // Without weights the input's width is the bound (opset 11: the axes an attribute).
    const bare = new TestGraph();
    const x = bare.input('features', ['N', 5]);
    bare.node('Mul', [bare.node('Unsqueeze', [x], 'column', { axes: [2] }), bare.node('Unsqueeze', [x], 'row', { axes: [1] })], 'pairs');
    expect(refusal(bare.model({ opset: 11 }))).toBe(
      'the node "pairs" (Mul) makes "pairs" of shape [rows, 5, 5]: 25 values per row of the batch, more than the larger of the 0 values the file\'s initializers hold and its input\'s width (5 values); no tensor of a graph hyperproto\'s exporter writes holds more',
    );
  });

  it('a tensor with two dims that follow the batch, whose size grows with the square of the rows', () => {
    const { g } = dense();
    const a = g.node('Unsqueeze', ['features', g.ints('axis1', [1])], 'a');
    const b = g.node('Unsqueeze', ['features', g.ints('axis0', [0])], 'b');
    g.node('Sub', [a, b], 'pairs');
    expect(refusal(g.model())).toBe(
      'the node "pairs" (Sub) makes "pairs" of shape [rows, rows, 4], whose size grows with the square of the batch\'s rows; no tensor of a hyperproto model does (each row is answered on its own)',
    );
    // A batch broadcast against a fixed size counts both.
    const fixed = dense();
    fixed.g.node('Add', [fixed.hidden, fixed.g.floats('C', [6, 1, 3])], 'spread');
    expect(readOnnxModel(fixed.g.model()).shapes).toMatchObject({ weights: 30, largest: 18 });
    fixed.g.node('Add', ['spread', fixed.g.floats('D', [6, 1])], 'spread2');
    expect(refusal(fixed.g.model())).toMatch(
      /^the node "spread2" \(Add\) makes "spread2" of shape \[6, max\(rows, 6\), 3\]: 108 values per row/,
    );
  });

  it(`nodes that together make more than ${NODE_VALUES_FACTOR} times the bound, each within it`, () => {
    const g = new TestGraph();
    const p = g.floats('P', [100]);
    for (let i = 0; i < NODE_VALUES_FACTOR; i++) g.node('Neg', [p], `n${i}`);
    expect(readOnnxModel(g.model()).shapes).toMatchObject({ weights: 100, folded: NODE_VALUES_FACTOR * 100 });
    g.node('Neg', [p], 'one_more');
    expect(refusal(g.model())).toBe(
      `its nodes up to the node "one_more" (Neg) make 1,700 values from initializers alone, more than ${NODE_VALUES_FACTOR} times the 100 values the file's initializers hold; onnxruntime would make and keep them all when it loads the file, and the nodes of a graph hyperproto's exporter writes make far fewer`,
    );
    const { g: rows, hidden } = dense();
    for (let i = 0; i < 64; i++) rows.node('Relu', [hidden], `r${i}`);
    expect(refusal(rows.model())).toBe(
      `its nodes up to the node "r63" (Relu) make 195 values (per row of the batch, for those that follow it), more than ${NODE_VALUES_FACTOR} times the 12 values the file's initializers hold; the nodes of a graph hyperproto's exporter writes make far fewer`,
    );
  });

  it('sizes past 2^64 as they are (Numbers do not wrap), and no more dims than the pass follows', () => {
    const g = new TestGraph();
    g.node('Relu', [g.input('features', ['N', 2 ** 62, 2 ** 62])], 'huge');
    expect(refusal(g.model())).toBe(
      'the node "huge" (Relu) makes "huge" of shape [rows, 4.61e+18, 4.61e+18]: 2.13e+37 values per row of the batch, more than the larger of the 0 values the file\'s initializers hold and its input\'s width (1,000,000 values); no tensor of a graph hyperproto\'s exporter writes holds more',
    );
    const chain = dense();
    let t = chain.hidden;
    for (let i = 0; i < 7; i++) t = chain.g.node('Unsqueeze', [t, chain.g.ints(`a${i}`, [0])], `u${i}`);
    expect(refusal(chain.g.model())).toBe(
      `the node "u6" (Unsqueeze) makes a tensor of 9 dims; no tensor of a hyperproto model has more than 2 (this check follows up to ${MAX_RANK})`,
    );
  });

  it('initializers whose dims claim more values than the file holds, or negative dims', () => {
    const g = new TestGraph();
    g.initializer(tensorProto({ name: 'lie', dims: [1_000_000], raw: [0, 0, 0, 0] }));
    expect(refusal(g.model())).toBe(
      'the initializer "lie" has the dims [1000000], 1,000,000 values, but the file holds data for 1 of them',
    );
    // int64_data counts 8 bytes a value: 1,000 values of one byte each hold data for 125.
    const packed = new TestGraph();
    packed.floats('W', [10, 10]);
    packed.initializer(
      tensorProto({ name: 'classes', dims: [1000], dataType: 7, int64Data: new Array<number>(1000).fill(1), packed: true }),
    );
    expect(refusal(packed.model())).toBe(
      'the initializer "classes" has the dims [1000], 1,000 values, but the file holds data for 125 of them',
    );
    const negative = new TestGraph();
    negative.initializer(tensorProto({ name: 'neg', dims: [-1, 4], packed: true }));
    expect(refusal(negative.model())).toBe('the initializer "neg" has the dims [-1, 4], one of them negative');
  });
});

describe('the shape pass reads types as onnxruntime does, and refuses those no exported model has', () => {
  const INPUT = "a hyperproto model's input is a float32 tensor [N, width], which is what the runtimes feed";

  it("reads an input's type as protobuf does: the last member of TypeProto's oneof, copies of it merged", () => {
    // A sparse_tensor_type [1, 1] written before the tensor_type [N, 1] that onnxruntime reads: with both shapes read
    // as one, the input looked like [1, 1, N, 1] and the features plus their own transpose passed. Read as protobuf
    // reads it, the input is [rows, 1] and the sum [rows, rows].
    const g = new TestGraph();
    const x = g.input('features', undefined, typeProto(['sparseTensor', tensorTypeProto([1, 1])], ['tensor', tensorTypeProto(['N', 1])]));
    const row = g.node('Squeeze', [g.node('Unsqueeze', [x, g.ints('axis0', [0])], 'column'), g.ints('axis2', [2])], 'row');
    g.node('Add', [x, row], 'square');
    expect(refusal(g.model())).toBe(
      'the node "square" (Add) makes "square" of shape [rows, rows], whose size grows with the square of the batch\'s rows; no tensor of a hyperproto model does (each row is answered on its own)',
    );
    // Copies of the tensor type merge (the later element type wins, dims add up); another member in between resets it.
    const merged = (type: number[]) => {
      const m = new TestGraph();
      m.node('Relu', [m.input('features', undefined, type)], 'relu');
      return readOnnxModel(m.model()).shapes;
    };
    expect(merged(typeProto(['tensor', tensorTypeProto(['N'], 7)], ['tensor', tensorTypeProto([4])]))).toMatchObject({ largest: 4 });
    const reset = typeProto(['tensor', tensorTypeProto(['N', 100])], ['sequence', []], ['tensor', tensorTypeProto(['N', 4])]);
    expect(merged(reset)).toMatchObject({ largest: 4, valuesPerRow: 8 });
  });

  it('an input that is not a dense float32 tensor', () => {
    const cases: [number[], string][] = [
      [typeProto(['tensor', tensorTypeProto(['N', 1])], ['sparseTensor', tensorTypeProto(['N', 1])]), 'is a sparse tensor'],
      [typeProto(['sequence', typeProto(['tensor', tensorTypeProto(['N', 4])])]), 'is a sequence'],
      [typeProto(['optional', typeProto(['tensor', tensorTypeProto(['N', 4])])]), 'is an optional value'],
      [typeProto(['map', []]), 'is a map'],
      [[], 'is of no type'],
      [typeProto(['tensor', tensorTypeProto(['N', 4], 7)]), 'holds int64 values'],
      [typeProto(['tensor', tensorTypeProto(['N', 4], 11)]), 'holds float64 values'],
      [typeProto(['tensor', numberField(2, 0)]), 'holds untyped values'],
    ];
    for (const [type, why] of cases) {
      const g = new TestGraph();
      g.input('features', undefined, type);
      expect(refusal(g.model())).toBe(`the input "features" ${why}; ${INPUT}`);
    }
    // An input of more dims than the pass follows; one of another rank is the runtimes' to refuse, before a row is
    // fed (resolveClassifierInterface), as not a matrix [N, width].
    const deep = new TestGraph();
    deep.input('features', ['N', ...new Array<number>(20).fill(1)]);
    expect(refusal(deep.model())).toBe(
      `the input "features" has more than ${MAX_RANK} dims; no tensor of a hyperproto model has more than 2 (this check follows up to ${MAX_RANK})`,
    );
    const cube = new TestGraph();
    cube.node('Relu', [cube.input('features', ['N', 2, 2])], 'relu');
    expect(readOnnxModel(cube.model()).shapes).toMatchObject({ largest: 4, valuesPerRow: 8 });
  });

  it('initializers of a type other than float32 and int64, whose values a cast could widen several times', () => {
    // uint8 weights cast to float64 cost 8 bytes a value of 1 byte of the file, to strings more.
    const TYPES: [number, string][] = [
      [2, 'uint8'],
      [9, 'bool'],
      [6, 'int32'],
      [10, 'float16'],
      [11, 'float64'],
      [8, 'string'],
      [0, 'untyped'],
      [99, 'data type 99'],
    ];
    for (const [dataType, name] of TYPES) {
      const g = new TestGraph();
      g.input('features', ['N', 1]);
      g.initializer(tensorProto({ name: 'u', dims: [1000], dataType, raw: new Array<number>(1000).fill(1) }));
      g.node('Cast', ['u'], 'wide', { to: 11 });
      expect(refusal(g.model())).toBe(
        `the initializer "u" holds ${name} values; hyperproto's exporter writes only float32 initializers (the weights) and int64 ones (axes, top-k's k, class indices), and this check counts values, which a cast from a narrower type would widen`,
      );
    }
  });

  it('a Cast to a type other than float32 and int64', () => {
    for (const [to, name] of [
      [11, 'float64'],
      [8, 'string'],
      [9, 'bool'],
      [undefined, 'no type'],
    ] as const) {
      const { g, hidden } = dense();
      g.node('Cast', [hidden], 'cast', to === undefined ? {} : { to });
      expect(refusal(g.model())).toBe(
        `the node "cast" (Cast) casts to ${name}; hyperproto's exporter casts only to float32 and int64, and this check counts values, which a cast to a wider type would widen`,
      );
    }
    const { g, hidden } = dense();
    g.node('Cast', [g.node('Cast', [hidden], 'ints', { to: 7 })], 'floats', { to: 1 });
    expect(readOnnxModel(g.model()).shapes).toMatchObject({ total: 9 });
  });
});

describe('the shape pass refuses a graph whose shapes it cannot know, as no exported graph is', () => {
  it('a node that reads a tensor nothing gives before it: unknown, or given by a later node', () => {
    const { g } = dense();
    g.node('Gemm', ['features', 'nowhere'], 'lost');
    expect(refusal(g.model())).toBe(
      'the node "lost" (Gemm) reads "nowhere", which no graph input, initializer or earlier node gives (hyperproto\'s exporter writes every node after the nodes it reads)',
    );
    const late = new TestGraph();
    late.input('features', ['N', 4]);
    late.node('Relu', ['later'], 'early');
    late.node('Neg', ['features'], 'later');
    expect(refusal(late.model())).toMatch(
      /^the node "early" \(Relu\) reads "later", which no graph input, initializer or earlier node gives/,
    );
  });

  it('a tensor given twice, and an attribute given twice', () => {
    const { g, hidden } = dense();
    g.node('Relu', [hidden], 'hidden');
    expect(refusal(g.model())).toBe(
      'the node "hidden" (Relu) writes "hidden", which a graph input, initializer or earlier node already gives',
    );
    const twice = dense();
    twice.g.floats('W', [1]);
    expect(refusal(twice.g.model())).toBe('the graph has two initializers named "W"');
    const inputs = dense();
    inputs.g.input('features', ['N', 4]);
    expect(refusal(inputs.g.model())).toBe('the graph has two inputs named "features"');
    const attributes = dense();
    attributes.g.raw(
      nodeProto({
        op: 'ArgMax',
        name: 'a',
        inputs: [attributes.hidden],
        outputs: ['a'],
        attributes: [
          [...bytesField(1, 'axis'), 0x18, 1],
          [...bytesField(1, 'axis'), 0x18, 0],
        ],
      }),
    );
    expect(refusal(attributes.g.model())).toBe('the node "a" (ArgMax) has the attribute "axis" more than once');
  });

  it('axes that are not an int64 initializer, or missing where the shape needs them', () => {
    const { g, hidden } = dense();
    const axes = g.node('Cast', [g.floats('one', [1])], 'axes', { to: 7 });
    g.node('ReduceSum', [hidden, axes], 'sum');
    expect(refusal(g.model())).toBe(
      'the node "sum" (ReduceSum) takes its axes from "axes", which is not an int64 initializer of at most 8 values; hyperproto\'s exporter gives axes as constants, so that every shape is known before a row is read',
    );
    const fromInput = dense();
    fromInput.g.node('Unsqueeze', [fromInput.hidden, fromInput.g.input('axes', [1])], 'u');
    expect(refusal(fromInput.g.model())).toMatch(
      /^the node "u" \(Unsqueeze\) takes its axes from "axes", which is not an int64 initializer/,
    );
    const float = dense();
    float.g.node('Squeeze', [float.hidden, 'W'], 's');
    expect(refusal(float.g.model())).toMatch(/^the node "s" \(Squeeze\) takes its axes from "W", which is not an int64 initializer/);
    for (const op of ['Squeeze', 'Unsqueeze']) {
      const bare = dense();
      bare.g.node(op, [bare.hidden], 'x');
      expect(refusal(bare.g.model())).toBe(
        `the node "x" (${op}) names no axes; hyperproto's exporter always names the axes of a${op === 'Unsqueeze' ? 'n' : ''} ${op}`,
      );
    }
  });

  it('axes out of range or named twice, flags other than 0 and 1, a Gemm of a tensor that is not a matrix, a missing input', () => {
    const cases: [string, (g: TestGraph, hidden: string) => void, string][] = [
      ['argmax', (g, h) => g.node('ArgMax', [h], 'x', { axis: 2 }), 'the node "x" (ArgMax) names axis 2 of a tensor of 2 dims'],
      [
        'gather',
        (g, h) => g.node('Gather', [h, g.ints('i', [0])], 'x', { axis: -3 }),
        'the node "x" (Gather) names axis -3 of a tensor of 2 dims',
      ],
      [
        'unsqueeze',
        (g, h) => g.node('Unsqueeze', [h, g.ints('a', [3])], 'x'),
        'the node "x" (Unsqueeze) names axis 3 of a tensor of 3 dims',
      ],
      [
        'twice',
        (g, h) => g.node('ReduceSum', [h, g.ints('a', [1, -1])], 'x'),
        'the node "x" (ReduceSum) names the axes [1, -1], one of them twice',
      ],
      [
        'keepdims',
        (g, h) => g.node('ReduceMean', [h], 'x', { keepdims: 2 }),
        'the node "x" (ReduceMean) has keepdims 2; it must be 0 or 1',
      ],
      ['transB', (g, h) => g.node('Gemm', [h, 'W'], 'x', { transB: -1 }), 'the node "x" (Gemm) has transB -1; it must be 0 or 1'],
      [
        'rank',
        (g, h) => g.node('Gemm', [g.node('Unsqueeze', [h, g.ints('a', [0])], 'u'), 'W'], 'x'),
        'the node "x" (Gemm) multiplies "u" of shape [1, rows, 3], which is not a matrix',
      ],
      [
        'many',
        (g, h) => g.node('Unsqueeze', [h], 'x', { axes: [0, 1, 2, 3, 4, 5, 6, 7, 8] }),
        `the node "x" (Unsqueeze) names more than ${MAX_RANK} axes; no tensor of a hyperproto model has more than 2 (this check follows up to ${MAX_RANK})`,
      ],
      [
        'empty',
        (g, h) => g.node('Squeeze', [h, g.ints('none', [])], 'x'),
        'the node "x" (Squeeze) names no axes; hyperproto\'s exporter always names the axes of a Squeeze',
      ],
      ['input', (g, h) => g.node('Add', [h], 'x'), 'the node "x" (Add) has no input 2, which Add needs'],
      ['optional', (g, h) => g.node('Gather', [h, ''], 'x'), 'the node "x" (Gather) has no input 2, which Gather needs'],
    ];
    for (const [, make, message] of cases) {
      const { g, hidden } = dense();
      make(g, hidden);
      expect(refusal(g.model())).toBe(message);
    }
  });
});
