/** Just enough protobuf writing to make ONNX ModelProto bytes by hand in tests (no dependencies). */
const utf8 = new TextEncoder();

/** A varint; a negative value as int64's two's complement (10 bytes), as protobuf writes it. */
export function varint(value: number | bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(value));
  for (; v >= 0x80n; v >>= 7n) out.push(Number(v & 0x7fn) | 0x80);
  out.push(Number(v));
  return out;
}

/** A varint field (wire type 0). */
export function numberField(field: number, value: number | bigint): number[] {
  return [...varint(field * 8), ...varint(value)];
}

/** A length-delimited field (wire type 2): a string or a nested message's bytes. */
export function bytesField(field: number, value: string | readonly number[]): number[] {
  const bytes = typeof value === 'string' ? [...utf8.encode(value)] : [...value];
  return [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
}

export interface ModelProtoParts {
  readonly irVersion?: number;
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly docString?: string;
  /** false: no graph; true or absent: a graph with only a name; bytes: that GraphProto (see graphProto). */
  readonly graph?: boolean | readonly number[];
  readonly opsets?: Readonly<Record<string, number>>;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Fields written after the others, as they are (e.g. a second graph, functions). */
  readonly extra?: readonly number[];
}

/** ModelProto: 1 ir_version, 2 producer_name, 3 producer_version, 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props. */
export function modelProto(parts: ModelProtoParts = {}): Uint8Array {
  // Fields as arrays joined once at the end: a large graph's bytes are too many to spread into push().
  const fields: (readonly number[])[] = [];
  if (parts.irVersion !== undefined) fields.push(numberField(1, parts.irVersion));
  if (parts.producerName !== undefined) fields.push(bytesField(2, parts.producerName));
  if (parts.producerVersion !== undefined) fields.push(bytesField(3, parts.producerVersion));
  if (parts.docString !== undefined) fields.push(bytesField(6, parts.docString));
  const graph = parts.graph ?? true;
  if (graph !== false) fields.push(bytesField(7, graph === true ? bytesField(2, 'g') : graph));
  for (const [domain, version] of Object.entries(parts.opsets ?? {}))
    fields.push(bytesField(8, [...bytesField(1, domain), ...numberField(2, version)]));
  for (const [key, value] of Object.entries(parts.metadata ?? {}))
    fields.push(bytesField(14, [...bytesField(1, key), ...bytesField(2, value)]));
  fields.push(parts.extra ?? []);
  return Uint8Array.from(fields.flat());
}

/** GraphProto: 1 node, 2 name, 5 initializer, 11 input, 15 sparse_initializer (each given as its message's bytes). */
export function graphProto(parts: {
  readonly nodes?: readonly (readonly number[])[];
  readonly initializers?: readonly (readonly number[])[];
  readonly sparseInitializers?: readonly (readonly number[])[];
  readonly inputs?: readonly (readonly number[])[];
}): number[] {
  return [
    ...(parts.nodes ?? []).flatMap((node) => bytesField(1, node)),
    ...bytesField(2, 'g'),
    ...(parts.initializers ?? []).flatMap((tensor) => bytesField(5, tensor)),
    ...(parts.inputs ?? []).flatMap((input) => bytesField(11, input)),
    ...(parts.sparseInitializers ?? []).flatMap((tensor) => bytesField(15, tensor)),
  ];
}

/**
 * TypeProto.Tensor (and SparseTensor, alike): 1 elem_type (1 float unless `elemType`), 2 shape { 1 dim { 1 dim_value
 * | 2 dim_param } }. A number is a dim_value, a string a dim_param, null a dim with neither; no dims, no shape.
 */
export function tensorTypeProto(dims?: readonly (number | string | null)[], elemType = 1): number[] {
  const dim = (d: number | string | null) => bytesField(1, d === null ? [] : typeof d === 'number' ? numberField(1, d) : bytesField(2, d));
  return [...numberField(1, elemType), ...(dims === undefined ? [] : bytesField(2, dims.flatMap(dim)))];
}

/**
 * TypeProto's members by field number: tensor_type 1, sequence_type 4, map_type 5, sparse_tensor_type 8,
 * optional_type 9. `typeProto(['tensor', t], ['sparseTensor', s])` writes both, in that order.
 */
export const TYPE_MEMBER_FIELDS = { tensor: 1, sequence: 4, map: 5, sparseTensor: 8, optional: 9 } as const;
export function typeProto(...members: readonly [keyof typeof TYPE_MEMBER_FIELDS, readonly number[]][]): number[] {
  return members.flatMap(([member, bytes]) => bytesField(TYPE_MEMBER_FIELDS[member], bytes));
}

/** ValueInfoProto: 1 name, 2 TypeProto { 1 tensor_type (see tensorTypeProto) }; or `type`, a TypeProto's bytes. */
export function valueInfoProto(name: string, dims?: readonly (number | string | null)[], type?: readonly number[]): number[] {
  return [...bytesField(1, name), ...bytesField(2, type ?? typeProto(['tensor', tensorTypeProto(dims)]))];
}

/** NodeProto: 1 input, 2 output, 3 name, 4 op_type, 5 attribute, 7 domain. */
export function nodeProto(parts: {
  readonly op: string;
  readonly name?: string;
  readonly domain?: string;
  readonly inputs?: readonly string[];
  readonly outputs?: readonly string[];
  readonly attributes?: readonly (readonly number[])[];
}): number[] {
  return [
    ...(parts.inputs ?? []).flatMap((input) => bytesField(1, input)),
    ...(parts.outputs ?? ['y']).flatMap((output) => bytesField(2, output)),
    ...(parts.name === undefined ? [] : bytesField(3, parts.name)),
    ...bytesField(4, parts.op),
    ...(parts.attributes ?? []).flatMap((attribute) => bytesField(5, attribute)),
    ...(parts.domain === undefined ? [] : bytesField(7, parts.domain)),
  ];
}

/** An INT AttributeProto (3 i, type 2), or an INTS one (8 ints, type 7), packed unless `packed` is false. */
export function intAttribute(name: string, value: number | readonly number[], packed = true): number[] {
  if (typeof value === 'number') return [...bytesField(1, name), ...numberField(3, value), ...numberField(20, 2)];
  const ints = packed
    ? bytesField(
        8,
        value.flatMap((v) => varint(v)),
      )
    : value.flatMap((v) => numberField(8, v));
  return [...bytesField(1, name), ...ints, ...numberField(20, 7)];
}

/**
 * AttributeProto: 1 name, and its value as the field of its kind (5 t, 6 g, 10 tensors, 11 graphs, 22 sparse_tensor),
 * given as message bytes; 20 its type.
 */
export function attributeProto(
  name: string,
  kind: 'tensor' | 'graph' | 'tensors' | 'graphs' | 'sparseTensor',
  values: readonly (readonly number[])[],
): number[] {
  const [field, type] = { tensor: [5, 4], graph: [6, 5], tensors: [10, 9], graphs: [11, 10], sparseTensor: [22, 11] }[kind];
  return [...bytesField(1, name), ...values.flatMap((value) => bytesField(field!, value)), ...numberField(20, type!)];
}

/**
 * TensorProto: 1 dims (one varint each, or `packed`), 2 data_type (1 float unless `dataType`), 4 float_data
 * (packed), 7 int64_data (packed or not, as `packed`), 8 name, 9 raw_data, 13 external_data (key/value entries),
 * 14 data_location (1 EXTERNAL).
 */
export function tensorProto(parts: {
  readonly name?: string;
  readonly dims?: readonly number[];
  readonly dataType?: number;
  readonly raw?: readonly number[];
  readonly floatData?: readonly number[];
  readonly int64Data?: readonly number[];
  readonly packed?: boolean;
  readonly externalData?: Readonly<Record<string, string>>;
  readonly dataLocation?: number;
}): number[] {
  const ints = (field: number, values: readonly number[]) =>
    parts.packed
      ? bytesField(
          field,
          values.flatMap((v) => varint(v)),
        )
      : values.flatMap((v) => numberField(field, v));
  const floats = new Uint8Array(Float32Array.from(parts.floatData ?? []).buffer);
  return [
    ...ints(1, parts.dims ?? []),
    ...numberField(2, parts.dataType ?? 1),
    ...(parts.floatData === undefined ? [] : bytesField(4, [...floats])),
    ...(parts.int64Data === undefined ? [] : ints(7, parts.int64Data)),
    ...(parts.name === undefined ? [] : bytesField(8, parts.name)),
    ...(parts.raw === undefined ? [] : bytesField(9, parts.raw)),
    ...Object.entries(parts.externalData ?? {}).flatMap(([key, value]) => bytesField(13, [...bytesField(1, key), ...bytesField(2, value)])),
    ...(parts.dataLocation === undefined ? [] : numberField(14, parts.dataLocation)),
  ];
}

/** SparseTensorProto: 1 values, 2 indices (TensorProto bytes), 3 dims. */
export function sparseTensorProto(values: readonly number[], indices: readonly number[], dims: readonly number[]): number[] {
  return [...bytesField(1, values), ...bytesField(2, indices), ...dims.flatMap((dim) => numberField(3, dim))];
}

/**
 * A graph built node by node, for the shape checks: inputs, float initializers (zeros), int64 initializers and
 * nodes with integer attributes, written out as a whole ModelProto.
 */
export class TestGraph {
  private readonly nodes: number[][] = [];
  private readonly initializers: number[][] = [];
  private readonly inputs: number[][] = [];

  /** A graph input; see valueInfoProto (`type`: a TypeProto's bytes instead of a float tensor of `dims`). */
  input(name: string, dims?: readonly (number | string | null)[], type?: readonly number[]): string {
    this.inputs.push(valueInfoProto(name, dims, type));
    return name;
  }

  /** A float32 initializer of zeros, its values in raw_data. */
  floats(name: string, dims: readonly number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    this.initializers.push(tensorProto({ name, dims, raw: new Array<number>(count * 4).fill(0) }));
    return name;
  }

  /** A 1-D int64 initializer: little-endian raw_data, or int64_data packed or one varint a value. */
  ints(name: string, values: readonly number[], encoding: 'raw' | 'packed' | 'unpacked' = 'raw'): string {
    const dims = [values.length];
    if (encoding === 'raw') {
      const raw = new Uint8Array(BigInt64Array.from(values, BigInt).buffer);
      this.initializers.push(tensorProto({ name, dims, dataType: 7, raw: [...raw] }));
    } else this.initializers.push(tensorProto({ name, dims, dataType: 7, int64Data: values, packed: encoding === 'packed' }));
    return name;
  }

  /** Any initializer, as tensorProto's bytes. */
  initializer(bytes: readonly number[]): void {
    this.initializers.push([...bytes]);
  }

  /** A node named after its first output; integer attributes are INT, lists INTS. Returns its first output. */
  node(
    op: string,
    inputs: readonly string[],
    output: string | readonly string[],
    attributes: Record<string, number | number[]> = {},
    domain?: string,
  ): string {
    const outputs = typeof output === 'string' ? [output] : output;
    const attributeBytes = Object.entries(attributes).map(([name, value]) => intAttribute(name, value));
    this.nodes.push(nodeProto({ op, name: outputs[0]!, inputs, outputs, attributes: attributeBytes, ...(domain ? { domain } : {}) }));
    return outputs[0]!;
  }

  /** Node bytes as they are (a node of unusual make). */
  raw(node: readonly number[]): void {
    this.nodes.push([...node]);
  }

  model(parts: { readonly opset?: number; readonly metadata?: Readonly<Record<string, string>> } = {}): Uint8Array {
    const graph = graphProto({ nodes: this.nodes, initializers: this.initializers, inputs: this.inputs });
    return modelProto({ irVersion: 8, opsets: { '': parts.opset ?? 17 }, graph, ...(parts.metadata ? { metadata: parts.metadata } : {}) });
  }
}
