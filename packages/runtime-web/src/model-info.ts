import { RuntimeWebError } from './errors.js';

/** The ModelProto fields that describe a model, read straight from its bytes (onnxruntime-web does not expose them). */
export interface ModelInfo {
  readonly irVersion: number | undefined;
  readonly producerName: string | undefined;
  readonly producerVersion: string | undefined;
  readonly docString: string | undefined;
  /** Operator-set versions by domain; '' is the default ai.onnx domain. */
  readonly opsets: Readonly<Record<string, number>>;
  /** The model's metadata_props, in file order. */
  readonly metadata: Readonly<Record<string, string>>;
}

// ModelProto field numbers (onnx.proto).
const IR_VERSION = 1;
const PRODUCER_NAME = 2;
const PRODUCER_VERSION = 3;
const DOC_STRING = 6;
const GRAPH = 7;
const OPSET_IMPORT = 8;
const METADATA_PROPS = 14;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Reads the top level of an ONNX ModelProto without decoding the graph, so that a truncated or non-ONNX file is
 * reported as such before any execution provider is tried (and is not mistaken for a provider failure).
 */
export function readModelInfo(bytes: Uint8Array): ModelInfo {
  if (bytes.length === 0) throw notOnnx('the file is empty');
  const reader = new ProtoReader(bytes);
  let irVersion: number | undefined;
  let producerName: string | undefined;
  let producerVersion: string | undefined;
  let docString: string | undefined;
  let hasGraph = false;
  const opsets: Record<string, number> = {};
  const metadata: Record<string, string> = {};
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === IR_VERSION && wireType === 0) irVersion = reader.varint();
    else if (field === PRODUCER_NAME && wireType === 2) producerName = utf8.decode(reader.bytes());
    else if (field === PRODUCER_VERSION && wireType === 2) producerVersion = utf8.decode(reader.bytes());
    else if (field === DOC_STRING && wireType === 2) docString = utf8.decode(reader.bytes());
    else if (field === GRAPH && wireType === 2) {
      reader.bytes();
      hasGraph = true;
    } else if (field === OPSET_IMPORT && wireType === 2) {
      const entry = readStringPair(reader.bytes(), 0);
      opsets[entry.key] = entry.number;
    } else if (field === METADATA_PROPS && wireType === 2) {
      const entry = readStringPair(reader.bytes(), 2);
      metadata[entry.key] = entry.value;
    } else reader.skip(wireType);
  }
  if (!hasGraph) throw notOnnx('it has no graph');
  if (irVersion === undefined) throw notOnnx('it has no ir_version');
  return { irVersion, producerName, producerVersion, docString, opsets, metadata };
}

/** OperatorSetIdProto (1: domain, 2: version varint) and StringStringEntryProto (1: key, 2: value string). */
function readStringPair(bytes: Uint8Array, valueWireType: 0 | 2): { key: string; value: string; number: number } {
  const reader = new ProtoReader(bytes);
  let key = '';
  let value = '';
  let number = 0;
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === 2) key = utf8.decode(reader.bytes());
    else if (field === 2 && wireType === valueWireType) {
      if (wireType === 2) value = utf8.decode(reader.bytes());
      else number = reader.varint();
    } else reader.skip(wireType);
  }
  return { key, value, number };
}

function notOnnx(why: string): RuntimeWebError {
  return new RuntimeWebError('E_INVALID_INPUT', `not a readable ONNX model: ${why}`, {
    hint: 'give the .onnx file written by `hyperproto export` (a truncated download also shows this)',
  });
}

/** The protobuf wire format, just enough to walk messages. */
class ProtoReader {
  private offset = 0;

  constructor(private readonly buffer: Uint8Array) {}

  get done(): boolean {
    return this.offset >= this.buffer.length;
  }

  tag(): { field: number; wireType: number } {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) throw notOnnx(`field number 0 at byte ${this.offset}`);
    return { field, wireType: key % 8 };
  }

  /** Numbers above 2^53 lose precision, which no length or version in a model reaches. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.buffer.length) throw notOnnx('it ends inside a number (truncated?)');
      const byte = this.buffer[this.offset++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw notOnnx(`a number longer than 10 bytes at byte ${this.offset}`);
  }

  bytes(): Uint8Array {
    const length = this.varint();
    const end = this.offset + length;
    if (end > this.buffer.length) {
      throw notOnnx(`a field of ${length} bytes runs past the end of the ${this.buffer.length}-byte file (truncated?)`);
    }
    const slice = this.buffer.subarray(this.offset, end);
    this.offset = end;
    return slice;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      if (this.offset + size > this.buffer.length) throw notOnnx('it ends inside a fixed-size field (truncated?)');
      this.offset += size;
    } else throw notOnnx(`wire type ${wireType} at byte ${this.offset}`);
  }
}
