import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';

/** The top-level facts of an ONNX ModelProto, which onnxruntime (node and web) does not expose. */
export interface OnnxModelInfo {
  readonly irVersion: number;
  /** '' when the file does not name one. */
  readonly producerName: string;
  /** '' when the file does not name one. */
  readonly producerVersion: string;
  /** '' when the file has none. */
  readonly docString: string;
  /** The ai.onnx opset version (the '' domain); 0 when the file does not import it. */
  readonly opset: number;
  /** Operator-set versions by domain; '' is the default ai.onnx domain. */
  readonly opsets: Readonly<Record<string, number>>;
  /** metadata_props as a plain record, in file order. */
  readonly metadata: Readonly<Record<string, string>>;
}

// ModelProto field numbers (onnx.proto).
const IR_VERSION = 1,
  PRODUCER_NAME = 2,
  PRODUCER_VERSION = 3,
  DOC_STRING = 6,
  GRAPH = 7,
  OPSET_IMPORT = 8,
  METADATA_PROPS = 14;

const REEXPORT_HINT = `Export the model again with ${exportInstructions()}, and copy the whole file (a cut-short copy or download also shows this).`;

/**
 * Reads the top level of an ONNX file without a protobuf runtime or decoding the graph: walks the wire format,
 * checks that every field fits in the bytes, and decodes the few fields it needs. So a file that is not protobuf,
 * is cut short, or has no graph is reported as such (`E_INVALID_INPUT`, naming `source`) before any execution
 * provider is tried, and is not mistaken for a provider failure. The graph itself is left to onnxruntime.
 */
export function readOnnxModelInfo(bytes: Uint8Array, source = 'the model'): OnnxModelInfo {
  const problem = (why: string) =>
    new ModelContractError(ContractErrorCode.InvalidInput, `${source} is not a usable ONNX model: ${why}`, { hint: REEXPORT_HINT });
  if (bytes.length === 0) throw problem('the file is empty');
  let irVersion: number | undefined;
  let producerName = '';
  let producerVersion = '';
  let docString = '';
  let hasGraph = false;
  const opsets: Record<string, number> = {};
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
    if (field.number === IR_VERSION && field.varint !== undefined) irVersion = Number(field.varint);
    else if (field.number === PRODUCER_NAME && field.bytes) producerName = decoder.decode(field.bytes);
    else if (field.number === PRODUCER_VERSION && field.bytes) producerVersion = decoder.decode(field.bytes);
    else if (field.number === DOC_STRING && field.bytes) docString = decoder.decode(field.bytes);
    else if (field.number === GRAPH && field.bytes) hasGraph = true;
    else if (field.number === OPSET_IMPORT && field.bytes) {
      // OperatorSetIdProto: 1 domain (string), 2 version (varint).
      const entry = readEntry(field.bytes);
      if (!entry) throw problem('an opset import is malformed');
      const version = entry.varints[2];
      if (version !== undefined) opsets[decoder.decode(entry.strings[1] ?? new Uint8Array())] = Number(version);
    } else if (field.number === METADATA_PROPS && field.bytes) {
      // StringStringEntryProto: 1 key, 2 value.
      const entry = readEntry(field.bytes);
      if (!entry) throw problem('a metadata entry is malformed');
      const key = entry.strings[1];
      if (key !== undefined) metadata[decoder.decode(key)] = decoder.decode(entry.strings[2] ?? new Uint8Array());
    }
  }
  if (irVersion === undefined || !hasGraph)
    throw problem(`it has no ${irVersion === undefined ? 'IR version' : 'graph'}, so it is not an ONNX model`);
  return { irVersion, producerName, producerVersion, docString, opset: opsets[''] ?? 0, opsets, metadata };
}

interface WireField {
  readonly number: number;
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
        return varint === undefined ? undefined : { number, varint };
      }
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (this.offset + size > this.bytes.length) {
          this.truncated = true;
          return undefined;
        }
        this.offset += size;
        return { number };
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
        return { number, bytes: this.bytes.subarray(start, this.offset) };
      }
      default:
        // Groups (3, 4) are not used by onnx.proto; 6 and 7 do not exist.
        return undefined;
    }
  }
}

/** A small message of string (length-delimited) and varint fields. */
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
