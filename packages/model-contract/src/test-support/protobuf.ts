/** Just enough protobuf writing to make ONNX ModelProto bytes by hand in tests (no dependencies). */
const utf8 = new TextEncoder();

export function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A varint field (wire type 0). */
export function numberField(field: number, value: number): number[] {
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
  const bytes: number[] = [];
  if (parts.irVersion !== undefined) bytes.push(...numberField(1, parts.irVersion));
  if (parts.producerName !== undefined) bytes.push(...bytesField(2, parts.producerName));
  if (parts.producerVersion !== undefined) bytes.push(...bytesField(3, parts.producerVersion));
  if (parts.docString !== undefined) bytes.push(...bytesField(6, parts.docString));
  const graph = parts.graph ?? true;
  if (graph !== false) bytes.push(...bytesField(7, graph === true ? bytesField(2, 'g') : graph));
  for (const [domain, version] of Object.entries(parts.opsets ?? {}))
    bytes.push(...bytesField(8, [...bytesField(1, domain), ...numberField(2, version)]));
  for (const [key, value] of Object.entries(parts.metadata ?? {}))
    bytes.push(...bytesField(14, [...bytesField(1, key), ...bytesField(2, value)]));
  bytes.push(...(parts.extra ?? []));
  return Uint8Array.from(bytes);
}

/** GraphProto: 1 node, 2 name, 5 initializer, 15 sparse_initializer (each given as its message's bytes). */
export function graphProto(parts: {
  readonly nodes?: readonly (readonly number[])[];
  readonly initializers?: readonly (readonly number[])[];
  readonly sparseInitializers?: readonly (readonly number[])[];
}): number[] {
  return [
    ...(parts.nodes ?? []).flatMap((node) => bytesField(1, node)),
    ...bytesField(2, 'g'),
    ...(parts.initializers ?? []).flatMap((tensor) => bytesField(5, tensor)),
    ...(parts.sparseInitializers ?? []).flatMap((tensor) => bytesField(15, tensor)),
  ];
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
 * TensorProto: 1 dims, 2 data_type (1 float), 8 name, 9 raw_data, 13 external_data (key/value entries),
 * 14 data_location (1 EXTERNAL).
 */
export function tensorProto(parts: {
  readonly name?: string;
  readonly dims?: readonly number[];
  readonly raw?: readonly number[];
  readonly externalData?: Readonly<Record<string, string>>;
  readonly dataLocation?: number;
}): number[] {
  return [
    ...(parts.dims ?? []).flatMap((dim) => numberField(1, dim)),
    ...numberField(2, 1),
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
