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
  readonly graph?: boolean;
  readonly opsets?: Readonly<Record<string, number>>;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** ModelProto: 1 ir_version, 2 producer_name, 3 producer_version, 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props. */
export function modelProto(parts: ModelProtoParts = {}): Uint8Array {
  const bytes: number[] = [];
  if (parts.irVersion !== undefined) bytes.push(...numberField(1, parts.irVersion));
  if (parts.producerName !== undefined) bytes.push(...bytesField(2, parts.producerName));
  if (parts.producerVersion !== undefined) bytes.push(...bytesField(3, parts.producerVersion));
  if (parts.docString !== undefined) bytes.push(...bytesField(6, parts.docString));
  // A GraphProto with only a name: the reader never decodes the graph.
  if (parts.graph ?? true) bytes.push(...bytesField(7, bytesField(2, 'g')));
  for (const [domain, version] of Object.entries(parts.opsets ?? {}))
    bytes.push(...bytesField(8, [...bytesField(1, domain), ...numberField(2, version)]));
  for (const [key, value] of Object.entries(parts.metadata ?? {}))
    bytes.push(...bytesField(14, [...bytesField(1, key), ...bytesField(2, value)]));
  return Uint8Array.from(bytes);
}
