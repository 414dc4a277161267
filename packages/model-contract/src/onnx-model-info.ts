import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';
import { DEFAULT_ONNX_DOMAINS, METADATA_KEYS, MODEL_OPERATORS } from './contract-names.js';
import { describeValue } from './describe-value.js';
import { checkShapeBounds, MAX_RANK, type InitializerFacts, type InputFacts, type NodeFacts, type ShapeSummary } from './shape-bounds.js';

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
  METADATA_PROPS = 14,
  TRAINING_INFO = 20,
  FUNCTIONS = 25;

const REEXPORT_HINT = `Export the model again with ${exportInstructions()}, and copy the whole file (a cut-short copy or download also shows this).`;
const CONTENT_HINT = `A hyperproto model keeps its weights inside the file and uses only these operators of the default ONNX domain: ${MODEL_OPERATORS.join(', ')}. Export the model again with ${exportInstructions()}.`;
const SHAPE_HINT = `A hyperproto model's graph gives every tensor before a node reads it, and none of its tensors holds more values (per row of the batch) than the larger of its weights and its input's width. Export the model again with ${exportInstructions()}.`;

/**
 * Reads the top level of an ONNX file without a protobuf runtime: walks the wire format, checks that every field
 * fits in the bytes, and decodes the few fields it needs. So a file that is not protobuf, is cut short, or has no
 * graph is reported as such (`E_INVALID_INPUT`, naming `source`) before any execution provider is tried, and is not
 * mistaken for a provider failure.
 *
 * It also walks the graph (and every subgraph) for what no exported model holds but onnxruntime would act on, and
 * refuses the file (`E_INVALID_INPUT`, naming the tensor or node):
 * - a tensor anywhere (initializer, sparse initializer, node attribute, subgraph) whose values are in an external
 *   file: onnxruntime would read that file from the disk of the machine that loads the model, and the model's
 *   answers would carry it to whoever asks;
 * - a node whose operator is not one of MODEL_OPERATORS in the default domain (a Loop can run for as long as its
 *   input says, a custom operator is code the runtime does not know), an opset import of another domain, and the
 *   model-level functions and training information that no exported model has;
 * - then, in the main graph, what its tensors would cost (checkShapeBounds works out a bound of every shape): a
 *   tensor whose size grows with the square of the batch's rows; one made from initializers alone that holds more
 *   values than the file's initializers do together (onnxruntime folds such nodes into new tensors when it loads
 *   the file, so two initializers [N, 1] and [1, M] would make N x M values of a file of N + M); one made from the
 *   input that holds more per row than the larger of those and the input's width; nodes that make more than
 *   NODE_VALUES_FACTOR times that together; and a graph whose shapes cannot be known (a node that reads a tensor no
 *   earlier node gives, axes that are not constants).
 * So what a file can make onnxruntime allocate at load is a small multiple of what the file holds, and what a row
 * costs a small multiple of its weights and its input's width. No exported model comes near the bounds.
 */
export function readOnnxModelInfo(bytes: Uint8Array, source = 'the model'): OnnxModelInfo {
  return readOnnxModel(bytes, source).info;
}

/** readOnnxModelInfo's reading, with what the shape pass found (for tests: not exported from the package). */
export function readOnnxModel(bytes: Uint8Array, source = 'the model'): { info: OnnxModelInfo; shapes: ShapeSummary } {
  const refusal = (hint: string) => (why: string) =>
    new ModelContractError(ContractErrorCode.InvalidInput, `${source} is not a usable ONNX model: ${why}`, { hint });
  // A damaged file, and a whole one holding what no exported model does.
  const problem = refusal(REEXPORT_HINT);
  const refuse = refusal(CONTENT_HINT);
  if (bytes.length === 0) throw problem('the file is empty');
  let irVersion: number | undefined;
  let producerName = '';
  let producerVersion = '';
  let docString = '';
  const graphs: Uint8Array[] = [];
  let extras: string | undefined;
  let otherDomain: string | undefined;
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
    // Protobuf merges a repeated message field: every copy of the graph counts.
    else if (field.number === GRAPH && field.bytes) graphs.push(field.bytes);
    else if (field.number === FUNCTIONS && field.bytes) extras ??= 'functions of its own (ModelProto.functions)';
    else if (field.number === TRAINING_INFO && field.bytes) extras ??= 'training information (ModelProto.training_info)';
    else if (field.number === OPSET_IMPORT && field.bytes) {
      // OperatorSetIdProto: 1 domain (string), 2 version (varint).
      const entry = readEntry(field.bytes);
      if (!entry) throw problem('an opset import is malformed');
      const version = entry.varints[2];
      const domain = decoder.decode(entry.strings[1] ?? new Uint8Array());
      // Only the default domains are recorded: any other is refused below, and so never lands in the record (nor
      // does a key such as `__proto__`).
      if (!DEFAULT_ONNX_DOMAINS.includes(domain)) otherDomain ??= domain;
      else if (version !== undefined) opsets[domain] = Number(version);
    } else if (field.number === METADATA_PROPS && field.bytes) {
      // StringStringEntryProto: 1 key, 2 value.
      const entry = readEntry(field.bytes);
      if (!entry) throw problem('a metadata entry is malformed');
      const key = entry.strings[1];
      if (key !== undefined) metadata[decoder.decode(key)] = decoder.decode(entry.strings[2] ?? new Uint8Array());
    }
  }
  if (irVersion === undefined || graphs.length === 0)
    throw problem(`it has no ${irVersion === undefined ? 'IR version' : 'graph'}, so it is not an ONNX model`);
  const inspector = new GraphInspector(refuse, problem, decoder);
  for (const graph of graphs) inspector.graph(graph, { depth: 0, within: '' });
  inspector.finish();
  if (extras) throw refuse(`it has ${extras}, which no hyperproto model has`);
  if (otherDomain !== undefined)
    throw refuse(`it imports the operator domain ${describeValue(otherDomain)}; a hyperproto model uses only the default ONNX domain`);
  // Last: shapes are worked out only for a graph of the contract's operators.
  const inputWidth = Object.hasOwn(metadata, METADATA_KEYS.inputWidth) ? metadata[METADATA_KEYS.inputWidth] : undefined;
  const shapes = checkShapeBounds(inspector.shapes, inputWidth, refusal(SHAPE_HINT));
  return { info: { irVersion, producerName, producerVersion, docString, opset: opsets[''] ?? 0, opsets, metadata }, shapes };
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

  varint(): bigint | undefined {
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

/**
 * The integers of a repeated int64 field, one WireField of it at a time: packed (length-delimited) or a single
 * varint. Two's complement, as int64 is. Returns false for malformed packed bytes.
 */
function pushInts(field: WireField, into: number[]): boolean {
  if (field.varint !== undefined) {
    into.push(Number(BigInt.asIntN(64, field.varint)));
    return true;
  }
  if (!field.bytes) return false;
  const reader = new WireReader(field.bytes);
  while (!reader.done()) {
    const value = reader.varint();
    if (value === undefined) return false;
    into.push(Number(BigInt.asIntN(64, value)));
  }
  return true;
}

// GraphProto, NodeProto, AttributeProto, TensorProto, SparseTensorProto, ValueInfoProto, TypeProto and
// TensorShapeProto field numbers (onnx.proto).
const GraphField = { node: 1, initializer: 5, input: 11, sparseInitializer: 15 } as const;
const NodeField = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const AttributeField = {
  name: 1,
  i: 3,
  tensor: 5,
  graph: 6,
  ints: 8,
  tensors: 10,
  graphs: 11,
  sparseTensor: 22,
  sparseTensors: 23,
} as const;
const TensorField = {
  dims: 1,
  dataType: 2,
  floatData: 4,
  int32Data: 5,
  stringData: 6,
  int64Data: 7,
  name: 8,
  rawData: 9,
  doubleData: 10,
  uint64Data: 11,
  externalData: 13,
  dataLocation: 14,
} as const;
const SparseTensorField = { values: 1, indices: 2, dims: 3 } as const;
const ValueInfoField = { name: 1, type: 2 } as const;
/** TypeProto: tensor_type and sparse_tensor_type, each { 1 elem_type, 2 shape }; TensorShapeProto: 1 dim. */
const TypeField = { tensorType: 1, sparseTensorType: 8, shape: 2, dim: 1 } as const;
const DimensionField = { value: 1, param: 2 } as const;

/**
 * TensorProto.DataType INT64, and the bits of one value of each type in raw_data (FLOAT 1, UINT8 2, INT8 3, UINT16
 * 4, INT16 5, INT32 6, INT64 7, BOOL 9, FLOAT16 10, DOUBLE 11, UINT32 12, UINT64 13, COMPLEX64 14, COMPLEX128 15,
 * BFLOAT16 16). Any other type counts 4, the fewest any has: the values a file holds are never undercounted.
 */
const INT64 = 7;
const VALUE_BITS: Readonly<Record<number, number>> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  14: 64,
  15: 128,
  16: 16,
};

/** Subgraphs deeper than this are refused: no exported model has any, and the walk stays shallow. */
const MAX_GRAPH_DEPTH = 8;
const OPERATORS = new Set(MODEL_OPERATORS);

/** Where a graph sits: `within` completes a tensor's or node's description (empty for the main graph). */
interface GraphPlace {
  readonly depth: number;
  readonly within: string;
}

/**
 * Walks a GraphProto for external data and operators outside the model contract (see readOnnxModelInfo). External
 * data is refused as soon as it is seen; an operator once the walk is done (`finish`), so that a file with both is
 * refused for its external data, the graver of the two, wherever its nodes and tensors are in the file.
 */
class GraphInspector {
  private operatorProblem: string | undefined;
  /** The main graph's inputs, initializers and nodes, in file order (every copy of it merged), for checkShapeBounds. */
  readonly shapes = { inputs: [] as InputFacts[], initializers: [] as InitializerFacts[], nodes: [] as NodeFacts[] };

  constructor(
    private readonly refuse: (why: string) => Error,
    /** For a message that is not protobuf: a damaged file, most likely. */
    private readonly damaged: (why: string) => Error,
    private readonly decoder: TextDecoder,
  ) {}

  graph(bytes: Uint8Array, place: GraphPlace): void {
    if (place.depth > MAX_GRAPH_DEPTH) throw this.refuse(`its graphs are nested more than ${MAX_GRAPH_DEPTH} deep`);
    const main = place.depth === 0;
    for (const field of this.fields(bytes, `a graph${place.within}`)) {
      if (!field.bytes) continue;
      if (field.number === GraphField.node) this.node(field.bytes, place);
      else if (field.number === GraphField.initializer) {
        const tensor = this.tensor(field.bytes, 'initializer', place.within);
        if (main) this.shapes.initializers.push({ ...tensor, kind: 'initializer' });
      } else if (field.number === GraphField.sparseInitializer) {
        const tensor = this.sparseTensor(field.bytes, 'sparse initializer', place.within);
        if (main) this.shapes.initializers.push({ ...tensor, kind: 'sparse initializer', ints: undefined });
      } else if (field.number === GraphField.input && main) this.shapes.inputs.push(this.valueInfo(field.bytes));
    }
  }

  private node(bytes: Uint8Array, place: GraphPlace): void {
    let name = '';
    let op = '';
    let domain = '';
    const attributes: Uint8Array[] = [];
    const inputs: string[] = [];
    const outputs: string[] = [];
    // Later copies of a field win, as protobuf parses them.
    for (const field of this.fields(bytes, `a node${place.within}`)) {
      if (!field.bytes) continue;
      if (field.number === NodeField.name) name = this.text(field.bytes);
      else if (field.number === NodeField.opType) op = this.text(field.bytes);
      else if (field.number === NodeField.domain) domain = this.text(field.bytes);
      else if (field.number === NodeField.attribute) attributes.push(field.bytes);
      else if (field.number === NodeField.input) inputs.push(this.text(field.bytes));
      else if (field.number === NodeField.output) outputs.push(this.text(field.bytes));
    }
    const node = `${named('node', name)}${place.within}`;
    const int = new Map<string, number>();
    const ints = new Map<string, number[]>();
    let repeatedAttribute: string | undefined;
    for (const attribute of attributes) {
      const read = this.attribute(attribute, node, place);
      if (int.has(read.name) || ints.has(read.name)) repeatedAttribute ??= read.name;
      if (read.ints.length) ints.set(read.name, read.ints);
      else if (read.int !== undefined) int.set(read.name, read.int);
    }
    if (place.depth === 0) this.shapes.nodes.push({ label: node, op, inputs, outputs, int, ints, repeatedAttribute });
    if (!DEFAULT_ONNX_DOMAINS.includes(domain))
      this.operatorProblem ??= `${node} runs the operator ${describeValue(op)} of the domain ${describeValue(domain)}; a hyperproto model uses only the default ONNX domain`;
    else if (!OPERATORS.has(op)) this.operatorProblem ??= `${node} runs the operator ${describeValue(op)}, which no hyperproto model uses`;
  }

  /** Refuses the first node found whose operator is outside the model contract. */
  finish(): void {
    if (this.operatorProblem) throw this.refuse(this.operatorProblem);
  }

  /** Walks an attribute's tensors and graphs; returns its name and integer values (i, ints) for the shape pass. */
  private attribute(bytes: Uint8Array, node: string, place: GraphPlace): { name: string; int: number | undefined; ints: number[] } {
    let name = '';
    let int: number | undefined;
    const ints: number[] = [];
    const tensors: Uint8Array[] = [];
    const sparseTensors: Uint8Array[] = [];
    const graphs: Uint8Array[] = [];
    const what = `an attribute of ${node}`;
    for (const field of this.fields(bytes, what)) {
      if (field.number === AttributeField.i && field.varint !== undefined) int = Number(BigInt.asIntN(64, field.varint));
      else if (field.number === AttributeField.ints) {
        if (!pushInts(field, ints)) throw this.damaged(`${what} has malformed ints`);
      }
      if (!field.bytes) continue;
      if (field.number === AttributeField.name) name = this.text(field.bytes);
      else if (field.number === AttributeField.tensor || field.number === AttributeField.tensors) tensors.push(field.bytes);
      else if (field.number === AttributeField.sparseTensor || field.number === AttributeField.sparseTensors)
        sparseTensors.push(field.bytes);
      else if (field.number === AttributeField.graph || field.number === AttributeField.graphs) graphs.push(field.bytes);
    }
    const owner = `attribute ${describeValue(name)} of ${node}`;
    for (const tensor of tensors) this.tensor(tensor, 'tensor', ` in ${owner}`);
    for (const tensor of sparseTensors) this.sparseTensor(tensor, 'sparse tensor', ` in ${owner}`);
    for (const graph of graphs) this.graph(graph, { depth: place.depth + 1, within: ` in the graph of ${owner}` });
    return { name, int, ints };
  }

  /** A SparseTensorProto, as its values tensor (whose name it goes by) with its own dense dims. */
  private sparseTensor(bytes: Uint8Array, kind: string, within: string): Omit<InitializerFacts, 'kind' | 'ints'> {
    const what = `a ${kind}${within}`;
    let values: Omit<InitializerFacts, 'kind'> | undefined;
    const dims: number[] = [];
    for (const field of this.fields(bytes, what)) {
      if (field.number === SparseTensorField.dims) {
        if (!pushInts(field, dims)) throw this.damaged(`${what} has malformed dims`);
      }
      if (!field.bytes) continue;
      if (field.number === SparseTensorField.values) values = this.tensor(field.bytes, kind, within);
      else if (field.number === SparseTensorField.indices) this.tensor(field.bytes, `${kind}'s indices`, within);
    }
    return { name: values?.name ?? '', dims, stored: values?.stored ?? 0 };
  }

  /**
   * Refuses a TensorProto whose values are elsewhere: data_location EXTERNAL, or external_data entries. Returns
   * its name, dims, how many values the file holds for it, and the values of a small int64 one (for the shape pass).
   */
  private tensor(bytes: Uint8Array, kind: string, within: string): Omit<InitializerFacts, 'kind'> {
    const what = `a ${kind}${within}`;
    let name = '';
    let external = false;
    let location: string | undefined;
    const dims: number[] = [];
    let dataType = 0;
    let raw: Uint8Array | undefined;
    let typed = 0;
    const int64Data: WireField[] = [];
    for (const field of this.fields(bytes, what)) {
      if (field.number === TensorField.dims) {
        if (!pushInts(field, dims)) throw this.damaged(`${what} has malformed dims`);
      } else if (field.number === TensorField.dataType && field.varint !== undefined) dataType = Number(field.varint);
      else if (field.number === TensorField.rawData && field.bytes) raw = field.bytes;
      else if (field.number === TensorField.floatData) typed += field.bytes ? field.bytes.length / 4 : 1;
      else if (field.number === TensorField.doubleData) typed += field.bytes ? field.bytes.length / 8 : 1;
      else if (field.number === TensorField.stringData) typed += 1;
      else if (
        field.number === TensorField.int32Data ||
        field.number === TensorField.int64Data ||
        field.number === TensorField.uint64Data
      ) {
        // Packed varints: one value per byte below 0x80.
        typed += field.bytes ? field.bytes.reduce((n, byte) => n + (byte < 0x80 ? 1 : 0), 0) : 1;
        if (field.number === TensorField.int64Data) int64Data.push(field);
      } else if (field.number === TensorField.name && field.bytes) name = this.text(field.bytes);
      // Any value but DEFAULT (0): onnxruntime reads only EXTERNAL (1), but no exported tensor has another.
      else if (field.number === TensorField.dataLocation && field.varint !== undefined && field.varint !== 0n) external = true;
      else if (field.number === TensorField.externalData && field.bytes) {
        external = true;
        // StringStringEntryProto: 1 key, 2 value; the key `location` names the file.
        const entry = readEntry(field.bytes);
        const key = entry?.strings[1];
        if (key && this.text(key) === 'location') location = this.text(entry.strings[2] ?? new Uint8Array());
      }
    }
    if (external) {
      const file = location === undefined ? 'an external file' : `the external file ${describeValue(location)}`;
      throw this.refuse(
        `${named(kind, name)}${within} takes its values from ${file}, which onnxruntime would read from the disk of the machine that loads the model; hyperproto's models keep their weights inside the .onnx file`,
      );
    }
    const stored = Math.floor(typed) + (raw ? Math.floor((raw.length * 8) / (VALUE_BITS[dataType] ?? 4)) : 0);
    return { name, dims, stored, ints: dataType === INT64 ? smallInts(dims, raw, int64Data) : undefined };
  }

  /** A graph input: its name and shape (dim_value, dim_param); no shape unless a tensor type gives one. */
  private valueInfo(bytes: Uint8Array): InputFacts {
    let name = '';
    let dims: (number | string)[] | undefined;
    // Protobuf merges repeated copies of a message field, so every copy's dims count, in order.
    for (const field of this.fields(bytes, 'a graph input')) {
      if (field.number === ValueInfoField.name && field.bytes) name = this.text(field.bytes);
      if (field.number !== ValueInfoField.type || !field.bytes) continue;
      for (const type of this.fields(field.bytes, 'the type of a graph input')) {
        if ((type.number !== TypeField.tensorType && type.number !== TypeField.sparseTensorType) || !type.bytes) continue;
        for (const shape of this.fields(type.bytes, 'the type of a graph input')) {
          if (shape.number !== TypeField.shape || !shape.bytes) continue;
          dims ??= [];
          for (const dim of this.fields(shape.bytes, 'the shape of a graph input')) {
            if (dim.number === TypeField.dim && dim.bytes) dims.push(this.dimension(dim.bytes));
          }
        }
      }
    }
    return { name, dims };
  }

  /** A TensorShapeProto.Dimension: its dim_value, else its dim_param ('' when it has neither). */
  private dimension(bytes: Uint8Array): number | string {
    let dim: number | string = '';
    for (const field of this.fields(bytes, 'a dim of a graph input')) {
      if (field.number === DimensionField.value && field.varint !== undefined) dim = Number(BigInt.asIntN(64, field.varint));
      else if (field.number === DimensionField.param && field.bytes) dim = this.text(field.bytes);
    }
    return dim;
  }

  private *fields(bytes: Uint8Array, what: string): Generator<WireField> {
    const reader = new WireReader(bytes);
    while (!reader.done()) {
      const field = reader.field();
      if (!field) throw this.damaged(`${what} is malformed (byte ${reader.lastStart} of it does not start a protobuf field that fits)`);
      yield field;
    }
  }

  private text(bytes: Uint8Array): string {
    return this.decoder.decode(bytes);
  }
}

/**
 * The values of an int64 tensor of at most MAX_RANK values (axes), from raw_data (little-endian) or int64_data;
 * undefined for a larger one, or one whose values do not match its dims (onnxruntime refuses that).
 */
function smallInts(dims: readonly number[], raw: Uint8Array | undefined, int64Data: readonly WireField[]): number[] | undefined {
  const count = dims.reduce((n, d) => n * d, 1);
  if (!(count >= 0 && count <= MAX_RANK)) return undefined;
  const values: number[] = [];
  if (raw) {
    if (raw.length !== count * 8) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) values.push(Number(view.getBigInt64(i * 8, true)));
  } else {
    for (const field of int64Data) if (!pushInts(field, values) || values.length > count) return undefined;
  }
  return values.length === count ? values : undefined;
}

/** `the node "n"`, or `an unnamed node`: names are quoted (control characters escaped) and shortened. */
function named(kind: string, name: string): string {
  return name ? `the ${kind} ${describeValue(name)}` : `an unnamed ${kind}`;
}
