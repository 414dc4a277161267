import { ErrorCode, HyperprotoError } from '@hyperproto/core';

/** The top-level facts of an ONNX ModelProto that onnxruntime-node does not expose. */
export interface OnnxModelInfo {
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  /** ai.onnx opset version (the '' domain); 0 when the file does not import it. */
  readonly opset: number;
  /** metadata_props as a plain record. */
  readonly metadata: Readonly<Record<string, string>>;
}

// ModelProto field numbers (onnx.proto).
const IR_VERSION = 1, PRODUCER_NAME = 2, PRODUCER_VERSION = 3, GRAPH = 7, OPSET_IMPORT = 8, METADATA_PROPS = 14;

/**
 * Reads the top-level fields of an ONNX file without a protobuf runtime: walks the wire format, checks that every
 * field fits in the bytes, and decodes the few it needs. A file that is not protobuf, is cut short, or has no
 * graph gets an E_INVALID_INPUT naming `source` and the problem; the graph itself is left to onnxruntime.
 */
export function readOnnxModelInfo(bytes: Uint8Array, source = 'the model'): OnnxModelInfo {
  const problem = (why: string, hint = 'Export the model again with `hyperproto export RUN_DIR --out model.onnx`, and copy the whole file.') =>
    new HyperprotoError(ErrorCode.InvalidInput, `${source} is not a usable ONNX model: ${why}`, { hint });
  if (bytes.length === 0) throw problem('the file is empty');
  let irVersion: number | undefined;
  let producerName = '';
  let producerVersion = '';
  let opset = 0;
  let hasGraph = false;
  const metadata: Record<string, string> = {};
  const decoder = new TextDecoder('utf-8', { fatal: false });

  const reader = new WireReader(bytes);
  while (!reader.done()) {
    const field = reader.field();
    if (!field) {
      throw problem(
        reader.truncated
          ? `the file is truncated (a field at byte ${reader.lastStart} runs past the end of its ${bytes.length} bytes)`
          : `byte ${reader.lastStart} does not start a protobuf field, so this is not an ONNX (protobuf) file`,
      );
    }
    if (field.number === IR_VERSION && field.wireType === 0) irVersion = Number(field.varint);
    else if (field.number === PRODUCER_NAME && field.bytes) producerName = decoder.decode(field.bytes);
    else if (field.number === PRODUCER_VERSION && field.bytes) producerVersion = decoder.decode(field.bytes);
    else if (field.number === GRAPH && field.bytes) hasGraph = true;
    else if (field.number === OPSET_IMPORT && field.bytes) {
      const entry = readEntry(field.bytes);
      if (entry && (entry.strings[1]?.length ?? 0) === 0 && entry.varints[2] !== undefined) opset = Number(entry.varints[2]);
    } else if (field.number === METADATA_PROPS && field.bytes) {
      const entry = readEntry(field.bytes);
      if (!entry) throw problem('a metadata entry is malformed');
      const key = entry.strings[1];
      if (key !== undefined) metadata[decoder.decode(key)] = decoder.decode(entry.strings[2] ?? new Uint8Array());
    }
  }
  if (irVersion === undefined || !hasGraph) throw problem(`it has no ${irVersion === undefined ? 'IR version' : 'graph'}, so it is not an ONNX model`);
  return { irVersion, producerName, producerVersion, opset, metadata };
}

interface WireField {
  readonly number: number;
  readonly wireType: number;
  readonly varint?: bigint;
  readonly bytes?: Uint8Array;
}

/** A cursor over protobuf wire format; `field()` returns undefined on malformed or truncated input. */
class WireReader {
  private offset = 0;
  lastStart = 0;
  truncated = false;

  constructor(private readonly bytes: Uint8Array) {}

  done(): boolean {
    return this.offset >= this.bytes.length;
  }

  private varint(): bigint | undefined {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.offset >= this.bytes.length) {
        this.truncated = true;
        return undefined;
      }
      const byte = this.bytes[this.offset++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
    return undefined;
  }

  field(): WireField | undefined {
    this.lastStart = this.offset;
    const tag = this.varint();
    if (tag === undefined) return undefined;
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (number < 1 || number > 536870911) return undefined;
    switch (wireType) {
      case 0: {
        const varint = this.varint();
        return varint === undefined ? undefined : { number, wireType, varint };
      }
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (this.offset + size > this.bytes.length) {
          this.truncated = true;
          return undefined;
        }
        this.offset += size;
        return { number, wireType };
      }
      case 2: {
        const length = this.varint();
        if (length === undefined) return undefined;
        if (BigInt(this.offset) + length > BigInt(this.bytes.length)) {
          this.truncated = true;
          return undefined;
        }
        const start = this.offset;
        this.offset += Number(length);
        return { number, wireType, bytes: this.bytes.subarray(start, this.offset) };
      }
      default:
        // Groups (3, 4) are not used by onnx.proto; 6 and 7 do not exist.
        return undefined;
    }
  }
}

/** A small message of string (length-delimited) and varint fields, e.g. StringStringEntryProto or OperatorSetIdProto. */
function readEntry(bytes: Uint8Array): { strings: Record<number, Uint8Array>; varints: Record<number, bigint> } | undefined {
  const reader = new WireReader(bytes);
  const strings: Record<number, Uint8Array> = {};
  const varints: Record<number, bigint> = {};
  while (!reader.done()) {
    const field = reader.field();
    if (!field) return undefined;
    if (field.bytes) strings[field.number] = field.bytes;
    if (field.varint !== undefined) varints[field.number] = field.varint;
  }
  return { strings, varints };
}
