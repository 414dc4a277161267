import { describe, expect, it } from 'vitest';
import { checkOnnxFileStart, MAX_MODEL_BYTES, modelSizeProblem, readOnnxModelInfo } from './index.js';
import { MAX_GRAPH_ENTRIES, MAX_NODE_ENTRIES } from './onnx-model-info.js';
import {
  attributeProto,
  bytesField,
  graphProto,
  intAttribute,
  modelProto,
  varint,
  nodeProto,
  numberField,
  sparseTensorProto,
  tensorProto,
  valueInfoProto,
} from './test-support/protobuf.js';
import { everyOperatorModel } from './test-support/graphs.js';
import { refusalOf } from './test-support/refusal.js';

const exported = modelProto({
  irVersion: 8,
  producerName: 'hyperproto',
  producerVersion: '0.1.0',
  docString: 'hyperproto softmax classifier: 8 features -> 5 classes',
  opsets: { '': 17 },
  metadata: { format: 'hyperproto-classifier', head: 'softmax', classes: '5', classNames: '["ant","bee","cat","dog","eel"]' },
});

describe('readOnnxModelInfo', () => {
  it('reads the IR version, producer, doc string, opsets and metadata_props', () => {
    expect(readOnnxModelInfo(exported)).toEqual({
      irVersion: 8,
      producerName: 'hyperproto',
      producerVersion: '0.1.0',
      docString: 'hyperproto softmax classifier: 8 features -> 5 classes',
      opset: 17,
      opsets: { '': 17 },
      metadata: { format: 'hyperproto-classifier', head: 'softmax', classes: '5', classNames: '["ant","bee","cat","dog","eel"]' },
      valuesPerRow: 0,
    });
  });

  it('gives empty strings, opset 0 and no metadata for a bare model', () => {
    expect(readOnnxModelInfo(modelProto({ irVersion: 10 }))).toEqual({
      irVersion: 10,
      producerName: '',
      producerVersion: '',
      docString: '',
      opset: 0,
      opsets: {},
      metadata: {},
      valuesPerRow: 0,
    });
  });

  it('skips fields it does not know, of every wire type', () => {
    const unknown = [...numberField(20, 5), 0x1d, 1, 2, 3, 4, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, ...bytesField(21, 'x')];
    const bytes = Uint8Array.from([...unknown, ...modelProto({ irVersion: 8, metadata: { head: 'hpn' } })]);
    expect(readOnnxModelInfo(bytes).metadata).toEqual({ head: 'hpn' });
  });

  it('refuses an empty, truncated, non-protobuf or graphless file, naming the source and the byte', () => {
    const refusal = (bytes: Uint8Array) => {
      try {
        readOnnxModelInfo(bytes, 'm.onnx');
      } catch (error) {
        return { name: (error as Error).name, code: (error as { code: string }).code, message: (error as Error).message };
      }
      return undefined;
    };
    expect(refusal(new Uint8Array())).toEqual({
      name: 'HyperprotoError',
      code: 'E_INVALID_INPUT',
      message: 'm.onnx is not a usable ONNX model: the file is empty',
    });
    // The last field is the classNames entry: cut 3 bytes off, it runs past the end.
    const lastField = bytesField(14, [...bytesField(1, 'classNames'), ...bytesField(2, '["ant","bee","cat","dog","eel"]')]).length;
    expect(refusal(exported.subarray(0, exported.length - 3))?.message).toBe(
      `m.onnx is not a usable ONNX model: the file is truncated (a field at byte ${exported.length - lastField} runs past the end of its ${exported.length - 3} bytes)`,
    );
    expect(exported.length - lastField).toBe(152);
    // '{' is field 15 with wire type 3 (a group), which onnx.proto never uses.
    expect(refusal(new TextEncoder().encode('{"format": "tfjs"}'))?.message).toBe(
      'm.onnx is not a usable ONNX model: byte 0 does not start a protobuf field, so this is not an ONNX (protobuf) file',
    );
    expect(refusal(Uint8Array.from([0x08, 0x08]))?.message).toBe(
      'm.onnx is not a usable ONNX model: it has no graph, so it is not an ONNX model',
    );
    expect(refusal(modelProto({ producerName: 'x' }))?.message).toBe(
      'm.onnx is not a usable ONNX model: it has no IR version, so it is not an ONNX model',
    );
    expect(refusal(Uint8Array.from([...modelProto({ irVersion: 8 }), ...bytesField(14, [0x7b])]))?.message).toBe(
      'm.onnx is not a usable ONNX model: a metadata entry is malformed',
    );
  });

  it('says what to do about it, and names "the model" by default', () => {
    expect(() => readOnnxModelInfo(new Uint8Array())).toThrow(
      expect.objectContaining({
        message: 'the model is not a usable ONNX model: the file is empty',
        hint: 'Export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`, and copy the whole file (a cut-short copy or download also shows this).',
      }),
    );
  });
});

describe('the first bytes and the size of a model file, checked before the whole file is read', () => {
  const refusal = (run: () => void) => {
    try {
      run();
    } catch (error) {
      return { name: (error as Error).name, code: (error as { code: string }).code, message: (error as Error).message };
    }
    return undefined;
  };

  it('checkOnnxFileStart refuses a start that is not protobuf, as readOnnxModelInfo would', () => {
    const notProtobuf = {
      name: 'HyperprotoError',
      code: 'E_INVALID_INPUT',
      message: 'm.onnx is not a usable ONNX model: byte 0 does not start a protobuf field, so this is not an ONNX (protobuf) file',
    };
    // A file of zeros (a sparse file, a disk image), and text.
    expect(refusal(() => checkOnnxFileStart(new Uint8Array(65_536), 'm.onnx'))).toEqual(notProtobuf);
    expect(refusal(() => checkOnnxFileStart(new TextEncoder().encode('{"format": "tfjs"}'), 'm.onnx'))).toEqual(notProtobuf);
    expect(refusal(() => readOnnxModelInfo(new Uint8Array(65_536), 'm.onnx'))).toEqual(notProtobuf);
    // Whole fields, then a broken one: named by its byte.
    expect(refusal(() => checkOnnxFileStart(Uint8Array.from([0x08, 0x08, 0x00, 0x01]), 'm.onnx'))?.message).toMatch(/: byte 2 does not/);
  });

  it('checkOnnxFileStart passes the start of a model, and a field that runs past the bytes it is given', () => {
    for (const length of [0, 1, 2, 10, 100, exported.length]) expect(() => checkOnnxFileStart(exported.subarray(0, length))).not.toThrow();
    expect(() =>
      checkOnnxFileStart(Uint8Array.from([...numberField(1, 8), ...bytesField(7, 'x'.repeat(300))]).subarray(0, 8)),
    ).not.toThrow();
  });

  it('a model file may have at most MAX_MODEL_BYTES, 2 GiB less a byte, what protobuf reads as one message', () => {
    expect(MAX_MODEL_BYTES).toBe(2 ** 31 - 1);
    expect(modelSizeProblem(MAX_MODEL_BYTES)).toBeUndefined();
    expect(modelSizeProblem(10 * 2 ** 30)).toEqual({
      why: 'it has 10,737,418,240 bytes (10.0 GiB), more than the 2,147,483,647 bytes (2 GiB) a model file can have',
      hint: 'An exported model is far smaller: check that you gave the model file, or export it again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`.',
    });
    // A stream of unknown length, refused as it is counted: the bytes read so far.
    expect(modelSizeProblem(MAX_MODEL_BYTES + 65_536, 'at least')?.why).toBe(
      'it has at least 2,147,549,183 bytes (2.0 GiB), more than the 2,147,483,647 bytes (2 GiB) a model file can have',
    );
    expect(modelSizeProblem(MAX_MODEL_BYTES, 'at least')).toBeUndefined();
    // Bytes given whole are held to it too (a view that says it is that long: nothing of the size is made here).
    const view = new Uint8Array(exported);
    Object.defineProperty(view, 'length', { value: 2 ** 31 });
    expect(refusal(() => readOnnxModelInfo(view, 'm.onnx'))?.message).toBe(
      'm.onnx is not a usable ONNX model: it has 2,147,483,648 bytes (2.0 GiB), more than the 2,147,483,647 bytes (2 GiB) a model file can have',
    );
  });
});

describe('readOnnxModelInfo refuses what no exported model holds', () => {
  /** Four float32 weights, inside the file. */
  const weights = tensorProto({ name: 'W', dims: [2, 2], raw: Array.from({ length: 16 }, () => 0) });
  const inFile = (nodes: number[][], parts: { initializers?: number[][]; sparseInitializers?: number[][] } = {}) =>
    modelProto({ irVersion: 8, opsets: { '': 17 }, graph: graphProto({ nodes, ...parts }) });
  const gemm = nodeProto({ op: 'Gemm', name: 'dense', inputs: ['features', 'W'] });
  const refusal = (bytes: Uint8Array) =>
    refusalOf(
      bytes,
      /^A hyperproto model keeps its weights inside the file and uses only these operators of the default ONNX domain: Add, ArgMax, .*, Unsqueeze\. Export the model again with exportOnnx/,
    );
  const READS_DISK =
    "which onnxruntime would read from the disk of the machine that loads the model; hyperproto's models keep their weights inside the .onnx file";

  it("reads a graph of the contract's operators whose tensors are inside the file", () => {
    // Every operator once at least; every other node names the default domain as "ai.onnx".
    expect(readOnnxModelInfo(everyOperatorModel(true).bytes).opset).toBe(17);
    const explicitDefault = tensorProto({ name: 'b', dims: [1], raw: [0, 0, 0, 0], dataLocation: 0 });
    const graph = graphProto({ nodes: [gemm], initializers: [weights, explicitDefault], inputs: [valueInfoProto('features', ['N', 2])] });
    expect(readOnnxModelInfo(modelProto({ irVersion: 8, opsets: { 'ai.onnx': 17 }, graph })).opsets).toEqual({ 'ai.onnx': 17 });
  });

  it('a tensor whose values are in an external file, wherever it is: the file would be read from the server', () => {
    // The probe's exfiltration model: weights read from .env in the server's working directory.
    const secret = tensorProto({ name: 'W', dims: [4, 3], externalData: { location: '.env', offset: '0', length: '48' }, dataLocation: 1 });
    expect(refusal(inFile([gemm], { initializers: [secret] }))).toBe(
      `the initializer "W" takes its values from the external file ".env", ${READS_DISK}`,
    );
    // Either mark alone is enough.
    expect(refusal(inFile([gemm], { initializers: [tensorProto({ name: 'W', dataLocation: 1 })] }))).toBe(
      `the initializer "W" takes its values from an external file, ${READS_DISK}`,
    );
    expect(refusal(inFile([gemm], { initializers: [tensorProto({ externalData: { location: '/etc/passwd' } })] }))).toBe(
      `an unnamed initializer takes its values from the external file "/etc/passwd", ${READS_DISK}`,
    );
    const sparse = sparseTensorProto(secret, tensorProto({ name: 'i', raw: [0, 0, 0, 0, 0, 0, 0, 0] }), [4, 3]);
    expect(refusal(inFile([gemm], { sparseInitializers: [sparse] }))).toBe(
      `the sparse initializer "W" takes its values from the external file ".env", ${READS_DISK}`,
    );
    const sparseIndices = sparseTensorProto(weights, tensorProto({ name: 'i', dataLocation: 1 }), [2, 2]);
    expect(refusal(inFile([gemm], { sparseInitializers: [sparseIndices] }))).toBe(
      `the sparse initializer's indices "i" takes its values from an external file, ${READS_DISK}`,
    );
    // With an operator outside the contract as well (nodes come before initializers in a file): the graver is named.
    const matmul = nodeProto({ op: 'MatMul', name: 'm', inputs: ['features', 'W'] });
    expect(refusal(inFile([matmul], { initializers: [secret] }))).toBe(
      `the initializer "W" takes its values from the external file ".env", ${READS_DISK}`,
    );
    // A Constant node's tensor (Constant is refused as well).
    const constant = nodeProto({ op: 'Constant', name: 'c', attributes: [attributeProto('value', 'tensor', [secret])] });
    expect(refusal(inFile([constant]))).toBe(
      `the tensor "W" in attribute "value" of the node "c" takes its values from the external file ".env", ${READS_DISK}`,
    );
    const listed = nodeProto({ op: 'Identity', name: 'id', attributes: [attributeProto('values', 'tensors', [weights, secret])] });
    expect(refusal(inFile([listed]))).toMatch(
      /^the tensor "W" in attribute "values" of the node "id" takes its values from the external file/,
    );
    const sparseAttribute = nodeProto({ op: 'Identity', name: 'id', attributes: [attributeProto('s', 'sparseTensor', [sparse])] });
    expect(refusal(inFile([sparseAttribute]))).toMatch(/^the sparse tensor "W" in attribute "s" of the node "id" takes its values from/);
    // In a subgraph: a Loop's body.
    const loop = nodeProto({
      op: 'Loop',
      name: 'loop',
      attributes: [attributeProto('body', 'graph', [graphProto({ nodes: [gemm], initializers: [secret] })])],
    });
    expect(refusal(inFile([loop]))).toBe(
      `the initializer "W" in the graph of attribute "body" of the node "loop" takes its values from the external file ".env", ${READS_DISK}`,
    );
  });

  it('a node whose operator no exported model uses, naming the node and the operator', () => {
    // A Loop's trip count can come from the input: one request could hold a server for ever.
    const body = attributeProto('body', 'graph', [graphProto({ nodes: [nodeProto({ op: 'Identity' })] })]);
    expect(refusal(inFile([gemm, nodeProto({ op: 'Loop', name: 'loop', attributes: [body] })]))).toBe(
      'the node "loop" runs the operator "Loop", which no hyperproto model uses',
    );
    for (const op of ['If', 'Scan', 'Reshape', 'ConstantOfShape', 'Expand', 'Tile', 'MatMul', 'gemm', ''])
      expect(refusal(inFile([nodeProto({ op, name: 'n' })]))).toBe(
        `the node "n" runs the operator ${JSON.stringify(op)}, which no hyperproto model uses`,
      );
    expect(refusal(inFile([nodeProto({ op: 'Evil', name: 'evil', domain: 'com.evil' })]))).toBe(
      'the node "evil" runs the operator "Evil" of the domain "com.evil"; a hyperproto model uses only the default ONNX domain',
    );
    // Contrib operators are onnxruntime's own domain: no exported model has them either.
    expect(refusal(inFile([nodeProto({ op: 'Gemm', name: 'g', domain: 'com.microsoft' })]))).toMatch(/of the domain "com\.microsoft"/);
    // Inside a subgraph of an allowed node, and unnamed; names are quoted with control characters escaped.
    const nested = nodeProto({
      op: 'Identity',
      name: '\u001b[2Jx',
      attributes: [attributeProto('g', 'graphs', [graphProto({ nodes: [nodeProto({ op: 'Loop' })] })])],
    });
    expect(refusal(inFile([nested]))).toBe(
      'an unnamed node in the graph of attribute "g" of the node "\\u001b[2Jx" runs the operator "Loop", which no hyperproto model uses',
    );
    // The later op_type wins, as protobuf parses it.
    const twice = [...nodeProto({ op: 'Relu', name: 'r' }), ...bytesField(4, 'Loop')];
    expect(refusal(inFile([twice]))).toBe('the node "r" runs the operator "Loop", which no hyperproto model uses');
  });

  it('every copy of the graph, opset imports of another domain, functions, training information, deep nesting and broken nodes', () => {
    // Protobuf merges a repeated graph field into one graph: the second copy's Loop would run.
    const second = bytesField(7, graphProto({ nodes: [nodeProto({ op: 'Loop', name: 'loop' })] }));
    expect(refusal(modelProto({ irVersion: 8, opsets: { '': 17 }, graph: graphProto({ nodes: [gemm] }), extra: second }))).toBe(
      'the node "loop" runs the operator "Loop", which no hyperproto model uses',
    );
    expect(refusal(modelProto({ irVersion: 8, opsets: { '': 17, 'com.microsoft': 1 }, graph: graphProto({ nodes: [gemm] }) }))).toBe(
      'it imports the operator domain "com.microsoft"; a hyperproto model uses only the default ONNX domain',
    );
    const protoDomain = bytesField(8, [...bytesField(1, '__proto__'), ...numberField(2, 1)]);
    expect(refusal(modelProto({ irVersion: 8, graph: graphProto({ nodes: [gemm] }), extra: protoDomain }))).toBe(
      'it imports the operator domain "__proto__"; a hyperproto model uses only the default ONNX domain',
    );
    const functions = bytesField(25, [...bytesField(1, 'Relu'), ...bytesField(2, '')]);
    expect(refusal(modelProto({ irVersion: 8, graph: graphProto({ nodes: [gemm] }), extra: functions }))).toBe(
      'it has functions of its own (ModelProto.functions), which no hyperproto model has',
    );
    const trainingInfo = bytesField(20, bytesField(1, graphProto({ initializers: [weights] })));
    expect(refusal(modelProto({ irVersion: 8, graph: graphProto({ nodes: [gemm] }), extra: trainingInfo }))).toBe(
      'it has training information (ModelProto.training_info), which no hyperproto model has',
    );
    let deep = graphProto({ nodes: [gemm] });
    for (let i = 0; i < 9; i++)
      deep = graphProto({ nodes: [nodeProto({ op: 'Identity', attributes: [attributeProto('g', 'graph', [deep])] })] });
    expect(refusal(modelProto({ irVersion: 8, graph: deep }))).toBe('its graphs are nested more than 8 deep');
    // A node whose bytes are not protobuf (field 15 as a group), and one whose attribute runs past its end: damaged.
    const damaged = (bytes: Uint8Array) => {
      try {
        readOnnxModelInfo(bytes, 'm.onnx');
      } catch (error) {
        expect(error).toMatchObject({ code: 'E_INVALID_INPUT', hint: expect.stringMatching(/copy the whole file/) });
        return (error as Error).message;
      }
      return undefined;
    };
    expect(damaged(inFile([[0x7b, 0x01]]))).toBe(
      'm.onnx is not a usable ONNX model: a node is malformed (byte 0 of it does not start a protobuf field that fits)',
    );
    expect(damaged(inFile([[...bytesField(4, 'Relu'), 0x2a, 0x05, 0x0a]]))).toBe(
      'm.onnx is not a usable ONNX model: a node is malformed (byte 6 of it does not start a protobuf field that fits)',
    );
  });

  it('a sparse tensor anywhere, which onnxruntime would make dense when it loads the file', () => {
    // Some 40 bytes of one sparse initializer [1,000,000] ask for 4 MB.
    const sparse = sparseTensorProto(
      tensorProto({ name: 's', dims: [1], raw: [0, 0, 0, 0] }),
      tensorProto({ dims: [1], dataType: 7, raw: [0, 0, 0, 0, 0, 0, 0, 0] }),
      [1_000_000],
    );
    expect(sparse.length).toBeLessThan(40);
    const DENSE =
      "would be made dense when onnxruntime loads the file, so a few bytes of it can ask for gigabytes; hyperproto's exporter writes no sparse tensors";
    expect(refusal(inFile([gemm], { initializers: [weights], sparseInitializers: [sparse] }))).toBe(`the sparse initializer "s" ${DENSE}`);
    const attribute = nodeProto({ op: 'Identity', name: 'id', inputs: ['W'], attributes: [attributeProto('s', 'sparseTensor', [sparse])] });
    expect(refusal(inFile([attribute], { initializers: [weights] }))).toBe(
      `the sparse tensor "s" in attribute "s" of the node "id" ${DENSE}`,
    );
    // An external file anywhere is named first, the graver of the two.
    const secret = tensorProto({ name: 'W', dims: [2, 2], externalData: { location: '.env' } });
    expect(refusal(inFile([gemm], { sparseInitializers: [sparse], initializers: [secret] }))).toMatch(
      /^the initializer "W" takes its values from the external file "\.env"/,
    );
  });

  describe(`more than ${MAX_GRAPH_ENTRIES.toLocaleString('en-US')} of a kind, refused as soon as one more is read`, () => {
    /** `times` copies of `item` in one array: too many bytes to spread into another. */
    const repeated = (item: readonly number[], times: number) => {
      const out = new Uint8Array(item.length * times);
      for (let i = 0; i < times; i++) out.set(item, i * item.length);
      return out;
    };
    /** A ModelProto of IR version 8 and opset 17 around a GraphProto's bytes. */
    const withGraph = (graph: Uint8Array) => {
      const head = Uint8Array.from([
        ...numberField(1, 8),
        ...bytesField(8, [...bytesField(1, ''), ...numberField(2, 17)]),
        ...varint(7 * 8 + 2),
        ...varint(graph.length),
      ]);
      const bytes = new Uint8Array(head.length + graph.length);
      bytes.set(head);
      bytes.set(graph, head.length);
      return bytes;
    };
    const over = (kind: string) => `it has more than 10,000 ${kind}; a hyperproto model has a few hundred at most`;

    it('nodes: a file of a million of them is refused at once, before it costs memory', () => {
      const node = bytesField(1, nodeProto({ op: 'Identity', name: 'n', inputs: ['W'], outputs: ['y'] }));
      const bytes = withGraph(repeated(node, 1_000_000));
      expect(bytes.length).toBeGreaterThan(20_000_000);
      const started = performance.now();
      expect(refusal(bytes)).toBe(over('nodes'));
      expect(performance.now() - started).toBeLessThan(1000);
      // Nodes of every graph count together: here, one of the main graph and those of its subgraph.
      const body = graphProto({ nodes: new Array(MAX_GRAPH_ENTRIES).fill(nodeProto({ op: 'Identity' })) });
      expect(refusal(inFile([nodeProto({ op: 'Identity', attributes: [attributeProto('g', 'graph', [body])] })]))).toBe(over('nodes'));
    });

    it('tensors, subgraphs, graph inputs and metadata entries', () => {
      const empty = tensorProto({ name: 'z', dims: [0] });
      expect(refusal(inFile([], { initializers: new Array(MAX_GRAPH_ENTRIES + 1).fill(empty) }))).toBe(over('tensors'));
      const listed = nodeProto({
        op: 'Identity',
        attributes: [attributeProto('t', 'tensors', new Array(MAX_GRAPH_ENTRIES + 1).fill(empty))],
      });
      expect(refusal(inFile([listed]))).toBe(over('tensors'));
      const graphs = nodeProto({ op: 'Identity', attributes: [attributeProto('g', 'graphs', new Array(MAX_GRAPH_ENTRIES + 1).fill([]))] });
      expect(refusal(inFile([graphs]))).toBe(over('graphs'));
      const copies = repeated(bytesField(7, bytesField(2, 'g')), MAX_GRAPH_ENTRIES + 1);
      expect(refusal(Uint8Array.from([...modelProto({ irVersion: 8 }), ...copies]))).toBe(over('graphs'));
      const inputs = graphProto({ inputs: new Array(MAX_GRAPH_ENTRIES + 1).fill(valueInfoProto('x', ['N', 1])) });
      expect(refusal(modelProto({ irVersion: 8, graph: inputs }))).toBe(over('graph inputs'));
      const metadata = Object.fromEntries(Array.from({ length: MAX_GRAPH_ENTRIES + 1 }, (_, i) => [`k${i}`, '']));
      expect(refusal(modelProto({ irVersion: 8, metadata }))).toBe(
        over('metadata entries').replace('a few hundred at most', 'some twenty'),
      );
      // As many as allowed are read.
      expect(
        readOnnxModelInfo(modelProto({ irVersion: 8, metadata: Object.fromEntries(Object.entries(metadata).slice(1)) })).metadata.k1,
      ).toBe('');
    });

    it(`a node of more than ${MAX_NODE_ENTRIES} inputs, outputs or attributes`, () => {
      const names = Array.from({ length: MAX_NODE_ENTRIES + 1 }, (_, i) => `t${i}`);
      const WHY = 'no node of a hyperproto model has more than 3 inputs, 2 outputs or 4 attributes';
      expect(refusal(inFile([nodeProto({ op: 'Max', name: 'm', inputs: names })]))).toBe(`the node "m" has more than 16 inputs; ${WHY}`);
      expect(refusal(inFile([nodeProto({ op: 'TopK', name: 'k', outputs: names })]))).toBe(`the node "k" has more than 16 outputs; ${WHY}`);
      const attributes = names.map((name) => intAttribute(name, 0));
      expect(refusal(inFile([nodeProto({ op: 'Gemm', attributes })]))).toBe(`an unnamed node has more than 16 attributes; ${WHY}`);
    });
  });
});
