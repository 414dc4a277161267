import { ContractErrorCode, exportInstructions, ModelContractError } from './contract-error.js';
import { DEFAULT_ONNX_DOMAINS, MODEL_OPERATORS } from './contract-names.js';
import { describeValue } from './describe-value.js';

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
 *   model-level functions and training information that no exported model has.
 * What a file may allocate (large initializers, broadcasts of them) is not bounded here.
 */
export function readOnnxModelInfo(bytes: Uint8Array, source = 'the model'): OnnxModelInfo {
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

// GraphProto, NodeProto, AttributeProto, TensorProto and SparseTensorProto field numbers (onnx.proto).
const GraphField = { node: 1, initializer: 5, sparseInitializer: 15 } as const;
const NodeField = { name: 3, opType: 4, attribute: 5, domain: 7 } as const;
const AttributeField = { name: 1, tensor: 5, graph: 6, tensors: 10, graphs: 11, sparseTensor: 22, sparseTensors: 23 } as const;
const TensorField = { name: 8, externalData: 13, dataLocation: 14 } as const;
const SparseTensorField = { values: 1, indices: 2 } as const;

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

  constructor(
    private readonly refuse: (why: string) => Error,
    /** For a message that is not protobuf: a damaged file, most likely. */
    private readonly damaged: (why: string) => Error,
    private readonly decoder: TextDecoder,
  ) {}

  graph(bytes: Uint8Array, place: GraphPlace): void {
    if (place.depth > MAX_GRAPH_DEPTH) throw this.refuse(`its graphs are nested more than ${MAX_GRAPH_DEPTH} deep`);
    for (const field of this.fields(bytes, `a graph${place.within}`)) {
      if (!field.bytes) continue;
      if (field.number === GraphField.node) this.node(field.bytes, place);
      else if (field.number === GraphField.initializer) this.tensor(field.bytes, 'initializer', place.within);
      else if (field.number === GraphField.sparseInitializer) this.sparseTensor(field.bytes, 'sparse initializer', place.within);
    }
  }

  private node(bytes: Uint8Array, place: GraphPlace): void {
    let name = '';
    let op = '';
    let domain = '';
    const attributes: Uint8Array[] = [];
    // Later copies of a field win, as protobuf parses them.
    for (const field of this.fields(bytes, `a node${place.within}`)) {
      if (!field.bytes) continue;
      if (field.number === NodeField.name) name = this.text(field.bytes);
      else if (field.number === NodeField.opType) op = this.text(field.bytes);
      else if (field.number === NodeField.domain) domain = this.text(field.bytes);
      else if (field.number === NodeField.attribute) attributes.push(field.bytes);
    }
    const node = `${named('node', name)}${place.within}`;
    for (const attribute of attributes) this.attribute(attribute, node, place);
    if (!DEFAULT_ONNX_DOMAINS.includes(domain))
      this.operatorProblem ??= `${node} runs the operator ${describeValue(op)} of the domain ${describeValue(domain)}; a hyperproto model uses only the default ONNX domain`;
    else if (!OPERATORS.has(op)) this.operatorProblem ??= `${node} runs the operator ${describeValue(op)}, which no hyperproto model uses`;
  }

  /** Refuses the first node found whose operator is outside the model contract. */
  finish(): void {
    if (this.operatorProblem) throw this.refuse(this.operatorProblem);
  }

  private attribute(bytes: Uint8Array, node: string, place: GraphPlace): void {
    let name = '';
    const tensors: Uint8Array[] = [];
    const sparseTensors: Uint8Array[] = [];
    const graphs: Uint8Array[] = [];
    for (const field of this.fields(bytes, `an attribute of ${node}`)) {
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
  }

  private sparseTensor(bytes: Uint8Array, kind: string, within: string): void {
    for (const field of this.fields(bytes, `a ${kind}${within}`)) {
      if (!field.bytes) continue;
      if (field.number === SparseTensorField.values) this.tensor(field.bytes, kind, within);
      else if (field.number === SparseTensorField.indices) this.tensor(field.bytes, `${kind}'s indices`, within);
    }
  }

  /** Refuses a TensorProto whose values are elsewhere: data_location EXTERNAL, or external_data entries. */
  private tensor(bytes: Uint8Array, kind: string, within: string): void {
    let name = '';
    let external = false;
    let location: string | undefined;
    for (const field of this.fields(bytes, `a ${kind}${within}`)) {
      if (field.number === TensorField.name && field.bytes) name = this.text(field.bytes);
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

/** `the node "n"`, or `an unnamed node`: names are quoted (control characters escaped) and shortened. */
function named(kind: string, name: string): string {
  return name ? `the ${kind} ${describeValue(name)}` : `an unnamed ${kind}`;
}
