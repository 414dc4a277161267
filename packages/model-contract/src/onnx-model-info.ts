import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';
import { DEFAULT_ONNX_DOMAINS, METADATA_KEYS, MODEL_OPERATORS } from './contract-names.js';
import { describeValue } from './describe-value.js';
import {
  checkShapeBounds,
  FLOAT32,
  INT64,
  MAX_RANK,
  named,
  type InitializerFacts,
  type InputFacts,
  type NodeFacts,
  type ShapeSummary,
} from './shape-bounds.js';

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
  /**
   * The most values one row of a batch can cost onnxruntime, each of at most 8 bytes: the input's width plus the
   * values of every tensor the graph makes from it, per row, as if all were alive at once. A server can size its
   * batches by it: `rows x valuesPerRow x 8` bytes bounds what an inference of that many rows makes (the tensors
   * made from the weights alone, at load, aside). 0 for a graph without inputs.
   */
  readonly valuesPerRow: number;
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

/**
 * The most bytes a model file can have: 2 GiB less one byte. onnxruntime (node and web) parses a model with protobuf,
 * which reads at most that much as one message (an int32 length), and Node's readFile reads no more either; an ONNX
 * model any larger keeps its weights in external files, which no runtime loads (readOnnxModelInfo refuses them). An
 * exported model, its weights and a small graph, is far smaller.
 */
export const MAX_MODEL_BYTES = 2 ** 31 - 1;

const REEXPORT_HINT = `Export the model again with ${exportInstructions()}, and copy the whole file (a cut-short copy or download also shows this).`;
const CONTENT_HINT = `A hyperproto model keeps its weights inside the file and uses only these operators of the default ONNX domain: ${MODEL_OPERATORS.join(', ')}. Export the model again with ${exportInstructions()}.`;
const SHAPE_HINT = `A hyperproto model's input is a float32 tensor [N, width], its initializers are float32 or int64, its graph gives every tensor before a node reads it, and none of its tensors holds more values (per row of the batch) than the larger of its weights and its input's width. Export the model again with ${exportInstructions()}.`;

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
 * - a sparse tensor anywhere: onnxruntime makes a sparse initializer dense when it loads the file (a few dozen bytes
 *   of one can ask for 4 MB), and no exported model has one;
 * - more than MAX_GRAPH_ENTRIES nodes, tensors, subgraphs, graph inputs or metadata entries, or a node of more than
 *   MAX_NODE_ENTRIES inputs, outputs or attributes: refused as they are read, so that reading a file of a million
 *   nodes costs no more memory than one of 10,000;
 * - a node whose operator is not one of MODEL_OPERATORS in the default domain (a Loop can run for as long as its
 *   input says, a custom operator is code the runtime does not know), an opset import of another domain, and the
 *   model-level functions and training information that no exported model has;
 * - then, in the main graph, what its tensors would cost (checkShapeBounds works out a bound of every shape): an
 *   input that is not a dense float32 tensor, initializers other than float32 and int64 and a Cast to another type
 *   (so that counting values bounds bytes); a tensor whose size grows with the square of the batch's rows; one made
 *   from initializers alone that holds more values than the file's initializers do together (onnxruntime folds such
 *   nodes into new tensors when it loads the file, so two initializers [N, 1] and [1, M] would make N x M values of
 *   a file of N + M); one made from the input that holds more per row than the larger of those and the input's
 *   width; nodes that make more than NODE_VALUES_FACTOR times that together; and a graph whose shapes cannot be
 *   known (a node that reads a tensor no earlier node gives, axes that are not constants).
 * So what a file can make onnxruntime allocate at load is a small multiple of what the file holds, and what a row
 * costs a small multiple of its weights and its input's width (`valuesPerRow` says how much for this file). No
 * exported model comes near the bounds.
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
  const tooLarge = modelSizeProblem(bytes.length);
  if (tooLarge) throw refusal(tooLarge.hint)(tooLarge.why);
  let irVersion: number | undefined;
  let producerName = '';
  let producerVersion = '';
  let docString = '';
  const graphs: Uint8Array[] = [];
  let metadataEntries = 0;
  let extras: string | undefined;
  let otherDomain: string | undefined;
  const opsets: Record<string, number> = {};
  const metadata: Record<string, string> = {};
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const inspector = new GraphInspector(refuse, problem, decoder);

  const reader = new WireReader(bytes);
  while (!reader.done()) {
    const field = reader.field();
    if (!field) {
      throw problem(
        reader.truncated
          ? `the file is truncated (a field at byte ${reader.lastStart} runs past the end of its ${bytes.length} bytes)`
          : notProtobuf(reader.lastStart),
      );
    }
    if (field.number === IR_VERSION && field.varint !== undefined) irVersion = Number(field.varint);
    else if (field.number === PRODUCER_NAME && field.bytes) producerName = decoder.decode(field.bytes);
    else if (field.number === PRODUCER_VERSION && field.bytes) producerVersion = decoder.decode(field.bytes);
    else if (field.number === DOC_STRING && field.bytes) docString = decoder.decode(field.bytes);
    // Protobuf merges a repeated message field: every copy of the graph counts.
    else if (field.number === GRAPH && field.bytes) {
      inspector.take('graphs');
      graphs.push(field.bytes);
    } else if (field.number === FUNCTIONS && field.bytes) extras ??= 'functions of its own (ModelProto.functions)';
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
      if (++metadataEntries > MAX_GRAPH_ENTRIES)
        throw refuse(`it has more than ${MAX_GRAPH_ENTRIES.toLocaleString('en-US')} metadata entries; a hyperproto model has some twenty`);
      const key = entry.strings[1];
      if (key !== undefined) metadata[decoder.decode(key)] = decoder.decode(entry.strings[2] ?? new Uint8Array());
    }
  }
  if (irVersion === undefined || graphs.length === 0)
    throw problem(`it has no ${irVersion === undefined ? 'IR version' : 'graph'}, so it is not an ONNX model`);
  for (const graph of graphs) inspector.graph(graph, { depth: 0, within: '' });
  inspector.finish();
  if (extras) throw refuse(`it has ${extras}, which no hyperproto model has`);
  if (otherDomain !== undefined)
    throw refuse(`it imports the operator domain ${describeValue(otherDomain)}; a hyperproto model uses only the default ONNX domain`);
  // Last: shapes are worked out only for a graph of the contract's operators.
  const inputWidth = Object.hasOwn(metadata, METADATA_KEYS.inputWidth) ? metadata[METADATA_KEYS.inputWidth] : undefined;
  const shapes = checkShapeBounds(inspector.shapes, inputWidth, refusal(SHAPE_HINT));
  const { valuesPerRow } = shapes;
  return { info: { irVersion, producerName, producerVersion, docString, opset: opsets[''] ?? 0, opsets, metadata, valuesPerRow }, shapes };
}

/**
 * Checks the first bytes of a model file, `head`, as readOnnxModelInfo would read them, so that a caller reading a
 * large file can refuse one that is not protobuf at all (a file of zeros, text, a disk image) before reading the
 * rest: the fields that lie wholly in `head` must be protobuf fields; a field that runs past its end is left to
 * readOnnxModelInfo, which reads the whole file. Refuses (`E_INVALID_INPUT`, naming `source`) as readOnnxModelInfo
 * does, with the same words.
 */
export function checkOnnxFileStart(head: Uint8Array, source = 'the model'): void {
  const reader = new WireReader(head);
  while (!reader.done()) {
    if (reader.field()) continue;
    if (reader.truncated) return;
    throw new ModelContractError(ContractErrorCode.InvalidInput, `${source} is not a usable ONNX model: ${notProtobuf(reader.lastStart)}`, {
      hint: REEXPORT_HINT,
    });
  }
}

function notProtobuf(byte: number): string {
  return `byte ${byte} does not start a protobuf field, so this is not an ONNX (protobuf) file`;
}

/**
 * Why a model file of `size` bytes cannot be loaded (more than MAX_MODEL_BYTES), and what to do, in the words of
 * every runtime; undefined when its size is no reason to refuse it. A runtime reading a file asks before reading it;
 * one reading a stream of unknown length asks as it counts, with `sizeIs` 'at least' (the rest is never read).
 */
export function modelSizeProblem(
  size: number,
  sizeIs: 'exact' | 'at least' = 'exact',
): { readonly why: string; readonly hint: string } | undefined {
  if (size <= MAX_MODEL_BYTES) return undefined;
  return {
    why: `it has ${sizeIs === 'at least' ? 'at least ' : ''}${size.toLocaleString('en-US')} bytes (${(size / 2 ** 30).toFixed(1)} GiB), more than the ${MAX_MODEL_BYTES.toLocaleString('en-US')} bytes (2 GiB) a model file can have`,
    hint: `An exported model is far smaller: check that you gave the model file, or export it again with ${exportInstructions()}.`,
  };
}

interface WireField {
  readonly number: number;
  readonly varint?: bigint;
  readonly bytes?: Uint8Array;
  /** The bytes its value takes in the file (after the tag): a varint's, 4 or 8 for fixed32 and fixed64, the length of `bytes`. */
  readonly size: number;
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
        const start = this.offset;
        const varint = this.varint();
        return varint === undefined ? undefined : { number, varint, size: this.offset - start };
      }
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (this.offset + size > this.bytes.length) {
          this.truncated = true;
          return undefined;
        }
        this.offset += size;
        return { number, size };
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
        return { number, bytes: this.bytes.subarray(start, this.offset), size: this.offset - start };
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
 * varint. Two's complement, as int64 is. Keeps at most `limit` of them in `into` (the rest are not read: what is kept
 * is enough to refuse the field for holding too many). Returns false for malformed packed bytes.
 */
function pushInts(field: WireField, into: number[], limit: number): boolean {
  if (field.varint !== undefined) {
    if (into.length < limit) into.push(Number(BigInt.asIntN(64, field.varint)));
    return true;
  }
  if (!field.bytes) return false;
  const reader = new WireReader(field.bytes);
  while (!reader.done() && into.length < limit) {
    const value = reader.varint();
    if (value === undefined) return false;
    into.push(Number(BigInt.asIntN(64, value)));
  }
  return true;
}

/** Lists the shape pass reads (dims, axes) are kept to one more than it follows: enough to refuse a longer one. */
const KEPT_INTS = MAX_RANK + 1;

/**
 * The most nodes (every graph's together), tensors (initializers, sparse or not, and tensors of attributes),
 * subgraphs, main-graph inputs and metadata entries a file may have. The walk refuses the file as soon as one more
 * starts, before it keeps anything of it, so what it holds stays small (about 10 MB) whatever the file's size; a
 * file of a million one-line nodes would otherwise take a gigabyte of memory before any check. An exported model has
 * two nodes for each hidden layer (16 layers at most), its head's score expression (a few dozen nodes for the
 * built-in heads), ArgMax and TopK, about as many initializers, one input and some twenty metadata entries: a few
 * hundred of each at most, where this allows 10,000.
 */
export const MAX_GRAPH_ENTRIES = 10_000;
/**
 * The most inputs, outputs or attributes a node may list (each): no node of an exported model has more than 3
 * inputs (Gemm; Max, which takes any number, has 2), 2 outputs (TopK) or 4 attributes (Gemm).
 */
export const MAX_NODE_ENTRIES = 16;

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
  int64Data: 7,
  name: 8,
  rawData: 9,
  externalData: 13,
  dataLocation: 14,
} as const;
const SparseTensorField = { values: 1, indices: 2, dims: 3 } as const;
const ValueInfoField = { name: 1, type: 2 } as const;
/** TypeProto.Tensor: 1 elem_type, 2 shape; TensorShapeProto: 1 dim. */
const TensorTypeField = { elemType: 1, shape: 2, dim: 1 } as const;
/**
 * The members of TypeProto's oneof `value` by field number (tensor_type 1, sequence_type 4, map_type 5, opaque_type
 * 7, sparse_tensor_type 8, optional_type 9): protobuf keeps only the last one written, merging copies of that one.
 */
const TYPE_MEMBERS: Readonly<Record<number, string>> = {
  1: 'tensor',
  4: 'sequence',
  5: 'map',
  7: 'opaque value',
  8: 'sparse tensor',
  9: 'optional value',
};
const TENSOR_TYPE = 1;
const DimensionField = { value: 1, param: 2 } as const;
/** TensorProto.DataType FLOAT and INT64, and the bytes of one value in raw_data; other types are refused. */
const VALUE_BYTES: Readonly<Record<number, number>> = { [FLOAT32]: 4, [INT64]: 8 };

/** Subgraphs deeper than this are refused: no exported model has any, and the walk stays shallow. */
const MAX_GRAPH_DEPTH = 8;
const OPERATORS = new Set(MODEL_OPERATORS);

/** Where a graph sits: `within` completes a tensor's or node's description (empty for the main graph). */
interface GraphPlace {
  readonly depth: number;
  readonly within: string;
}

/** A description for a message, made only when one is needed. */
type Description = string | (() => string);
const text = (what: Description): string => (typeof what === 'string' ? what : what());

/**
 * Walks a GraphProto for external data, sparse tensors and operators outside the model contract (see
 * readOnnxModelInfo). External data is refused as soon as it is seen; the others once the walk is done (`finish`),
 * so that a file with both is refused for its external data, the graver, wherever its nodes and tensors are in the
 * file. A count past MAX_GRAPH_ENTRIES or MAX_NODE_ENTRIES is refused at once.
 */
class GraphInspector {
  private problem: string | undefined;
  private readonly counts = { nodes: 0, tensors: 0, graphs: 0, inputs: 0 };
  /** The main graph's inputs, initializers and nodes, in file order (every copy of it merged), for checkShapeBounds. */
  readonly shapes = { inputs: [] as InputFacts[], initializers: [] as InitializerFacts[], nodes: [] as NodeFacts[] };

  constructor(
    private readonly refuse: (why: string) => Error,
    /** For a message that is not protobuf: a damaged file, most likely. */
    private readonly damaged: (why: string) => Error,
    private readonly decoder: TextDecoder,
  ) {}

  /** Counts one more of `what`, refusing the file past MAX_GRAPH_ENTRIES. */
  take(what: keyof GraphInspector['counts']): void {
    if (++this.counts[what] > MAX_GRAPH_ENTRIES)
      throw this.refuse(
        `it has more than ${MAX_GRAPH_ENTRIES.toLocaleString('en-US')} ${what === 'inputs' ? 'graph inputs' : what === 'graphs' ? 'graphs' : what}; a hyperproto model has a few hundred at most`,
      );
  }

  graph(bytes: Uint8Array, place: GraphPlace): void {
    if (place.depth > MAX_GRAPH_DEPTH) throw this.refuse(`its graphs are nested more than ${MAX_GRAPH_DEPTH} deep`);
    const main = place.depth === 0;
    for (const field of this.fields(bytes, () => `a graph${place.within}`)) {
      if (!field.bytes) continue;
      if (field.number === GraphField.node) this.node(field.bytes, place);
      else if (field.number === GraphField.initializer) {
        this.take('tensors');
        const tensor = this.tensor(field.bytes, 'initializer', place.within);
        if (main) this.shapes.initializers.push(tensor);
      } else if (field.number === GraphField.sparseInitializer) {
        this.take('tensors');
        this.sparseTensor(field.bytes, 'sparse initializer', place.within);
      } else if (field.number === GraphField.input && main) {
        this.take('inputs');
        this.shapes.inputs.push(this.valueInfo(field.bytes));
      }
    }
  }

  private node(bytes: Uint8Array, place: GraphPlace): void {
    this.take('nodes');
    let name = '';
    let op = '';
    let domain = '';
    const attributes: Uint8Array[] = [];
    const inputs: string[] = [];
    const outputs: string[] = [];
    let tooMany: string | undefined;
    const keep = <T>(list: T[], item: () => T, what: string) => {
      if (list.length < MAX_NODE_ENTRIES) list.push(item());
      else tooMany ??= what;
    };
    // Later copies of a field win, as protobuf parses them.
    for (const field of this.fields(bytes, () => `a node${place.within}`)) {
      const value = field.bytes;
      if (!value) continue;
      if (field.number === NodeField.name) name = this.text(value);
      else if (field.number === NodeField.opType) op = this.text(value);
      else if (field.number === NodeField.domain) domain = this.text(value);
      else if (field.number === NodeField.attribute) keep(attributes, () => value, 'attributes');
      else if (field.number === NodeField.input) keep(inputs, () => this.text(value), 'inputs');
      else if (field.number === NodeField.output) keep(outputs, () => this.text(value), 'outputs');
    }
    const node = () => `${named('node', name)}${place.within}`;
    if (tooMany)
      throw this.refuse(
        `${node()} has more than ${MAX_NODE_ENTRIES} ${tooMany}; no node of a hyperproto model has more than 3 inputs, 2 outputs or 4 attributes`,
      );
    const int = new Map<string, number>();
    const ints = new Map<string, number[]>();
    let repeatedAttribute: string | undefined;
    for (const attribute of attributes) {
      const read = this.attribute(attribute, node, place);
      if (int.has(read.name) || ints.has(read.name)) repeatedAttribute ??= read.name;
      if (read.ints.length) ints.set(read.name, read.ints);
      else if (read.int !== undefined) int.set(read.name, read.int);
    }
    if (place.depth === 0) this.shapes.nodes.push({ name, op, inputs, outputs, int, ints, repeatedAttribute });
    if (!DEFAULT_ONNX_DOMAINS.includes(domain))
      this.problem ??= `${node()} runs the operator ${describeValue(op)} of the domain ${describeValue(domain)}; a hyperproto model uses only the default ONNX domain`;
    else if (!OPERATORS.has(op)) this.problem ??= `${node()} runs the operator ${describeValue(op)}, which no hyperproto model uses`;
  }

  /** Refuses the first node found whose operator is outside the model contract, or the first sparse tensor. */
  finish(): void {
    if (this.problem) throw this.refuse(this.problem);
  }

  /** Walks an attribute's tensors and graphs; returns its name and integer values (i, ints) for the shape pass. */
  private attribute(bytes: Uint8Array, node: () => string, place: GraphPlace): { name: string; int: number | undefined; ints: number[] } {
    let name = '';
    let int: number | undefined;
    const ints: number[] = [];
    const tensors: Uint8Array[] = [];
    const sparseTensors: Uint8Array[] = [];
    const graphs: Uint8Array[] = [];
    const what = () => `an attribute of ${node()}`;
    for (const field of this.fields(bytes, what)) {
      if (field.number === AttributeField.i && field.varint !== undefined) int = Number(BigInt.asIntN(64, field.varint));
      else if (field.number === AttributeField.ints) {
        if (!pushInts(field, ints, KEPT_INTS)) throw this.damaged(`${what()} has malformed ints`);
      }
      if (!field.bytes) continue;
      if (field.number === AttributeField.name) name = this.text(field.bytes);
      else if (field.number === AttributeField.tensor || field.number === AttributeField.tensors) {
        this.take('tensors');
        tensors.push(field.bytes);
      } else if (field.number === AttributeField.sparseTensor || field.number === AttributeField.sparseTensors) {
        this.take('tensors');
        sparseTensors.push(field.bytes);
      } else if (field.number === AttributeField.graph || field.number === AttributeField.graphs) {
        this.take('graphs');
        graphs.push(field.bytes);
      }
    }
    if (tensors.length + sparseTensors.length + graphs.length) {
      const owner = `attribute ${describeValue(name)} of ${node()}`;
      for (const tensor of tensors) this.tensor(tensor, 'tensor', ` in ${owner}`);
      for (const tensor of sparseTensors) this.sparseTensor(tensor, 'sparse tensor', ` in ${owner}`);
      for (const graph of graphs) this.graph(graph, { depth: place.depth + 1, within: ` in the graph of ${owner}` });
    }
    return { name, int, ints };
  }

  /**
   * A SparseTensorProto: its values and indices are walked for external data (refused first), then the tensor is
   * refused once the walk is done. onnxruntime makes a sparse initializer dense when it loads the file, so a few
   * bytes can ask for gigabytes, and hyperproto's exporter writes none.
   */
  private sparseTensor(bytes: Uint8Array, kind: string, within: string): void {
    const what = () => `a ${kind}${within}`;
    let name = '';
    for (const field of this.fields(bytes, what)) {
      if (!field.bytes) continue;
      if (field.number === SparseTensorField.values) name = this.tensor(field.bytes, kind, within).name;
      else if (field.number === SparseTensorField.indices) this.tensor(field.bytes, `${kind}'s indices`, within);
    }
    this.problem ??= `${named(kind, name)}${within} would be made dense when onnxruntime loads the file, so a few bytes of it can ask for gigabytes; hyperproto's exporter writes no sparse tensors`;
  }

  /**
   * Refuses a TensorProto whose values are elsewhere: data_location EXTERNAL, or external_data entries. Returns
   * its facts for the shape pass: name, dims, data type, how many values the file holds data for (of the field its
   * type reads, InitializerFacts.stored) and the values of a small int64 one.
   */
  private tensor(bytes: Uint8Array, kind: string, within: string): InitializerFacts {
    const what = () => `a ${kind}${within}`;
    let name = '';
    let external = false;
    let location: string | undefined;
    const dims: number[] = [];
    let dataType = 0;
    let raw: Uint8Array | undefined;
    let floats = 0;
    let int64Bytes = 0;
    let int64Count = 0;
    let int64Broken = false;
    const int64Values: number[] = [];
    for (const field of this.fields(bytes, what)) {
      if (field.number === TensorField.dims) {
        if (!pushInts(field, dims, KEPT_INTS)) throw this.damaged(`${what()} has malformed dims`);
      } else if (field.number === TensorField.dataType && field.varint !== undefined) dataType = Number(field.varint);
      else if (field.number === TensorField.rawData && field.bytes) raw = field.bytes;
      // Packed, or one fixed32 value a field.
      else if (field.number === TensorField.floatData)
        floats += field.bytes ? Math.floor(field.bytes.length / 4) : field.size === 4 ? 1 : 0;
      else if (field.number === TensorField.int64Data && (field.bytes || field.varint !== undefined)) {
        int64Bytes += field.size;
        // Packed varints: one value per byte below 0x80.
        int64Count += field.bytes ? field.bytes.reduce((n, byte) => n + (byte < 0x80 ? 1 : 0), 0) : 1;
        if (!pushInts(field, int64Values, KEPT_INTS)) int64Broken = true;
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
    const valueBytes = VALUE_BYTES[dataType] ?? 0;
    const fromRaw = raw && valueBytes ? Math.floor(raw.length / valueBytes) : 0;
    // int64_data is counted by its bytes, 8 a value, not by its varints: a value of it may take 1 byte of the file.
    const stored = fromRaw + (dataType === FLOAT32 ? floats : dataType === INT64 ? Math.floor(int64Bytes / 8) : 0);
    const ints =
      dataType === INT64 ? smallInts(dims, raw, int64Broken ? undefined : { values: int64Values, count: int64Count }) : undefined;
    return { name, dims, dataType, stored, ints };
  }

  /**
   * A graph input: its name and type, read as protobuf reads it. TypeProto's `value` is a oneof: the last member
   * written is the type (onnxruntime's), and copies of it merge, as do copies of the type itself and of a tensor
   * type's shape (whose dims add up). Only a dense tensor's element type and shape are kept.
   */
  private valueInfo(bytes: Uint8Array): InputFacts {
    let name = '';
    let member = 0;
    let elemType = 0;
    let dims: (number | string)[] | undefined;
    for (const field of this.fields(bytes, 'a graph input')) {
      if (field.number === ValueInfoField.name && field.bytes) name = this.text(field.bytes);
      if (field.number !== ValueInfoField.type || !field.bytes) continue;
      for (const type of this.fields(field.bytes, 'the type of a graph input')) {
        if (!type.bytes || TYPE_MEMBERS[type.number] === undefined) continue;
        if (type.number !== member) {
          // Another member of the oneof: what came before is gone.
          member = type.number;
          elemType = 0;
          dims = undefined;
        }
        if (member !== TENSOR_TYPE) continue;
        for (const part of this.fields(type.bytes, 'the type of a graph input')) {
          if (part.number === TensorTypeField.elemType && part.varint !== undefined) elemType = Number(part.varint);
          if (part.number !== TensorTypeField.shape || !part.bytes) continue;
          dims ??= [];
          for (const dim of this.fields(part.bytes, 'the shape of a graph input')) {
            if (dim.number === TensorTypeField.dim && dim.bytes && dims.length < KEPT_INTS) dims.push(this.dimension(dim.bytes));
          }
        }
      }
    }
    return { name, type: TYPE_MEMBERS[member] ?? '', elemType, dims };
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

  private *fields(bytes: Uint8Array, what: Description): Generator<WireField> {
    const reader = new WireReader(bytes);
    while (!reader.done()) {
      const field = reader.field();
      if (!field)
        throw this.damaged(`${text(what)} is malformed (byte ${reader.lastStart} of it does not start a protobuf field that fits)`);
      yield field;
    }
  }

  private text(bytes: Uint8Array): string {
    return this.decoder.decode(bytes);
  }
}

/**
 * The values of an int64 tensor of at most MAX_RANK values (axes), from raw_data (little-endian) or int64_data (the
 * first values kept, and how many it has); undefined for a larger one, or one whose values do not match its dims
 * (onnxruntime refuses that).
 */
function smallInts(
  dims: readonly number[],
  raw: Uint8Array | undefined,
  int64Data: { readonly values: readonly number[]; readonly count: number } | undefined,
): number[] | undefined {
  const count = dims.reduce((n, d) => n * d, 1);
  if (!(dims.length <= MAX_RANK && count >= 0 && count <= MAX_RANK)) return undefined;
  if (raw) {
    if (raw.length !== count * 8) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: count }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  }
  return int64Data && int64Data.count === count ? int64Data.values.slice(0, count) : undefined;
}
