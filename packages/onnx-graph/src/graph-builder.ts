import { ProtobufWriter } from './protobuf-writer.js';

/** Element types by their ONNX TensorProto.DataType numbers. */
export const DATA_TYPES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;
export type DataType = keyof typeof DATA_TYPES;

/** A dimension: a fixed size, or a name for a dynamic one (e.g. 'N' for the batch). */
export type Dim = number | string;

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export interface TensorValue {
  readonly dataType: DataType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** Attribute values; plain numbers are INT when integral, so use `attr.float` for a float that happens to be whole. */
export type AttributeValue =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'tensor'; readonly value: TensorValue }
  | GraphBuilder;

export const attr = {
  float: (value: number) => ({ kind: 'float', value }) as const,
  floats: (value: readonly number[]) => ({ kind: 'floats', value }) as const,
  tensor: (value: TensorValue) => ({ kind: 'tensor', value }) as const,
};

interface ValueInfo {
  readonly name: string;
  readonly dataType: DataType;
  readonly shape?: readonly Dim[];
}

interface NodeSpec {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly name: string;
  readonly domain: string;
}

export interface ModelOptions {
  /** Default opset (ai.onnx) version; 17 by default. */
  readonly opset?: number;
  /** Other operator domains, e.g. { 'com.microsoft': 1 }. */
  readonly extraOpsets?: Readonly<Record<string, number>>;
  /** IR version; 8 by default (onnxruntime-node 1.30 reads up to 13). */
  readonly irVersion?: number;
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly docString?: string;
  /** Stored as metadata_props. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface NodeOptions {
  /** Output names, or how many outputs to name automatically (default 1). */
  readonly outputs?: number | readonly string[];
  readonly name?: string;
  readonly domain?: string;
}

/** Builds one ONNX graph: inputs, initializers, nodes in topological order, outputs. */
export class GraphBuilder {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly valueInfos: ValueInfo[] = [];
  private readonly initializers = new Map<string, TensorValue>();
  private readonly nodes: NodeSpec[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly name = 'graph') {}

  /** A fresh value name starting with `prefix`. */
  uniqueName(prefix: string): string {
    let name = prefix;
    while (this.used.has(name)) name = `${prefix}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX graph "${this.name}": the name "${name}" is already used`);
    this.used.add(name);
    return name;
  }

  input(name: string, dataType: DataType, shape?: readonly Dim[]): string {
    this.inputs.push({ name: this.claim(name), dataType, shape });
    return name;
  }

  /** Declares an existing value as a graph output. */
  output(name: string, dataType: DataType, shape?: readonly Dim[]): string {
    this.outputs.push({ name, dataType, shape });
    return name;
  }

  /** Shape and type annotation for an intermediate value (optional; helps tools). */
  valueInfo(name: string, dataType: DataType, shape?: readonly Dim[]): void {
    this.valueInfos.push({ name, dataType, shape });
  }

  /** A constant tensor stored in the model; the data type follows the array type unless given. */
  initializer(name: string, data: TensorData, dims: readonly number[], dataType: DataType = dataTypeOf(data)): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer "${name}": ${data.length} values for dims [${dims.join(', ')}]`);
    const unique = this.uniqueName(name);
    this.initializers.set(unique, { dataType, dims, data });
    return unique;
  }

  /** Shorthands for small constants. */
  scalar(value: number, dataType: DataType = 'float32'): string {
    return this.initializer(this.uniqueName(`const_${dataType}`), arrayOf(dataType, [value]), [], dataType);
  }

  ints(values: readonly number[]): string {
    return this.initializer(this.uniqueName('const_int64'), BigInt64Array.from(values.map(BigInt)), [values.length], 'int64');
  }

  /** Adds a node; returns its first output's name (see `nodeOutputs` for several). */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    options: NodeOptions = {},
  ): string {
    return this.nodeOutputs(opType, inputs, attributes, options)[0]!;
  }

  /** Adds a node and returns all of its output names. */
  nodeOutputs(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    options: NodeOptions = {},
  ): string[] {
    const outputs =
      typeof options.outputs === 'object'
        ? options.outputs.map((name) => this.claim(name))
        : Array.from({ length: options.outputs ?? 1 }, () => this.uniqueName(opType.toLowerCase()));
    this.nodes.push({
      opType,
      inputs,
      outputs,
      attributes,
      name: options.name ?? this.uniqueName(`${opType}_node`),
      domain: options.domain ?? '',
    });
    return outputs;
  }

  /** Names this graph's body uses from an enclosing graph are resolved by onnxruntime; nothing to declare. */
  encode(writer: ProtobufWriter): void {
    for (const node of this.nodes) writer.message(1, (w) => encodeNode(w, node));
    writer.string(2, this.name);
    for (const [name, tensor] of this.initializers) writer.message(5, (w) => encodeTensor(w, name, tensor));
    for (const input of this.inputs) writer.message(11, (w) => encodeValueInfo(w, input));
    for (const output of this.outputs) writer.message(12, (w) => encodeValueInfo(w, output));
    for (const info of this.valueInfos) writer.message(13, (w) => encodeValueInfo(w, info));
  }

  /** The serialized ModelProto, ready for `InferenceSession.create(bytes)` or a `.onnx` file. */
  toModel(options: ModelOptions = {}): Uint8Array {
    const writer = new ProtobufWriter();
    writer.int(1, options.irVersion ?? 8);
    writer.string(2, options.producerName ?? 'hyperproto');
    if (options.producerVersion) writer.string(3, options.producerVersion);
    if (options.docString) writer.string(6, options.docString);
    writer.message(7, (w) => this.encode(w));
    writer.message(8, (w) => {
      w.string(1, '');
      w.int(2, options.opset ?? 17);
    });
    for (const [domain, version] of Object.entries(options.extraOpsets ?? {})) {
      writer.message(8, (w) => {
        w.string(1, domain);
        w.int(2, version);
      });
    }
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      writer.message(14, (w) => {
        w.string(1, key);
        w.string(2, value);
      });
    }
    return writer.finish();
  }
}

function dataTypeOf(data: TensorData): DataType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

function arrayOf(dataType: DataType, values: readonly number[]): TensorData {
  switch (dataType) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int32':
      return Int32Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map(BigInt));
    case 'int8':
      return Int8Array.from(values);
    default:
      return Uint8Array.from(values);
  }
}

function encodeNode(w: ProtobufWriter, node: NodeSpec): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes)) w.message(5, (a) => encodeAttribute(a, name, value));
  if (node.domain) w.string(7, node.domain);
}

// AttributeProto.AttributeType
const FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8;

function encodeAttribute(w: ProtobufWriter, name: string, value: AttributeValue): void {
  w.string(1, name);
  if (value instanceof GraphBuilder) {
    w.message(6, (g) => value.encode(g));
    w.int(20, GRAPH);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      w.int(3, value);
      w.int(20, INT);
    } else {
      w.float(2, value);
      w.int(20, FLOAT);
    }
  } else if (typeof value === 'string') {
    w.string(4, value);
    w.int(20, STRING);
  } else if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      for (const s of value as string[]) w.string(9, s);
      w.int(20, STRINGS);
    } else if ((value as number[]).every((v) => Number.isInteger(v))) {
      w.packedInts(8, value as number[]);
      w.int(20, INTS);
    } else {
      w.packedFloats(7, value as number[]);
      w.int(20, FLOATS);
    }
  } else {
    const tagged = value as Exclude<AttributeValue, number | string | readonly unknown[] | GraphBuilder>;
    if (tagged.kind === 'float') {
      w.float(2, tagged.value);
      w.int(20, FLOAT);
    } else if (tagged.kind === 'floats') {
      w.packedFloats(7, tagged.value);
      w.int(20, FLOATS);
    } else {
      w.message(5, (t) => encodeTensor(t, name, tagged.value));
      w.int(20, TENSOR);
    }
  }
}

function encodeTensor(w: ProtobufWriter, name: string, tensor: TensorValue): void {
  if (tensor.dims.length) w.packedInts(1, tensor.dims);
  w.int(2, DATA_TYPES[tensor.dataType]);
  w.string(8, name);
  // raw_data is little-endian, which typed arrays are on every platform Node supports.
  w.raw(9, new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
}

function encodeValueInfo(w: ProtobufWriter, info: ValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.int(1, DATA_TYPES[info.dataType]);
      if (info.shape) {
        tensorType.message(2, (shape) => {
          for (const dim of info.shape!) shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
        });
      }
    }),
  );
}
