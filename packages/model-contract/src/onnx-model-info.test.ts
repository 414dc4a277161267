import { describe, expect, it } from 'vitest';
import { readOnnxModelInfo } from './index.js';
import { bytesField, modelProto, numberField } from './test-support/protobuf.js';

const exported = modelProto({
  irVersion: 8,
  producerName: 'hyperproto',
  producerVersion: '0.1.0',
  docString: 'hyperproto softmax classifier: 8 features -> 5 classes',
  opsets: { '': 17, 'com.microsoft': 1 },
  metadata: { format: 'hyperproto-classifier', head: 'softmax', classes: '5', classNames: '["ant","bee","cat","dog","eel"]' },
});

describe('readOnnxModelInfo', () => {
  it('reads the IR version, producer, doc string, opsets and metadata_props without decoding the graph', () => {
    expect(readOnnxModelInfo(exported)).toEqual({
      irVersion: 8,
      producerName: 'hyperproto',
      producerVersion: '0.1.0',
      docString: 'hyperproto softmax classifier: 8 features -> 5 classes',
      opset: 17,
      opsets: { '': 17, 'com.microsoft': 1 },
      metadata: { format: 'hyperproto-classifier', head: 'softmax', classes: '5', classNames: '["ant","bee","cat","dog","eel"]' },
    });
  });

  it('gives empty strings, opset 0 and no metadata for a bare model', () => {
    expect(readOnnxModelInfo(modelProto({ irVersion: 10 }))).toEqual({
      irVersion: 10,
      producerName: '',
      producerVersion: '',
      docString: '',
      opset: 0,
      opsets: {},
      metadata: {},
    });
  });

  it('skips fields it does not know, of every wire type', () => {
    const unknown = [...numberField(20, 5), 0x1d, 1, 2, 3, 4, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, ...bytesField(21, 'x')];
    const bytes = Uint8Array.from([...unknown, ...modelProto({ irVersion: 8, metadata: { head: 'hpn' } })]);
    expect(readOnnxModelInfo(bytes).metadata).toEqual({ head: 'hpn' });
  });

  it('refuses an empty, truncated, non-protobuf or graphless file, naming the source and the byte', () => {
    const refusal = (bytes: Uint8Array) => {
      try {
        readOnnxModelInfo(bytes, 'm.onnx');
      } catch (error) {
        return { name: (error as Error).name, code: (error as { code: string }).code, message: (error as Error).message };
      }
      return undefined;
    };
    expect(refusal(new Uint8Array())).toEqual({
      name: 'HyperprotoError',
      code: 'E_INVALID_INPUT',
      message: 'm.onnx is not a usable ONNX model: the file is empty',
    });
    // The last field is the classNames entry: cut 3 bytes off, it runs past the end.
    const lastField = bytesField(14, [...bytesField(1, 'classNames'), ...bytesField(2, '["ant","bee","cat","dog","eel"]')]).length;
    expect(refusal(exported.subarray(0, exported.length - 3))?.message).toBe(
      `m.onnx is not a usable ONNX model: the file is truncated (a field at byte ${exported.length - lastField} runs past the end of its ${exported.length - 3} bytes)`,
    );
    expect(exported.length - lastField).toBe(171);
    // '{' is field 15 with wire type 3 (a group), which onnx.proto never uses.
    expect(refusal(new TextEncoder().encode('{"format": "tfjs"}'))?.message).toBe(
      'm.onnx is not a usable ONNX model: byte 0 does not start a protobuf field, so this is not an ONNX (protobuf) file',
    );
    expect(refusal(Uint8Array.from([0x08, 0x08]))?.message).toBe(
      'm.onnx is not a usable ONNX model: it has no graph, so it is not an ONNX model',
    );
    expect(refusal(modelProto({ producerName: 'x' }))?.message).toBe(
      'm.onnx is not a usable ONNX model: it has no IR version, so it is not an ONNX model',
    );
    expect(refusal(Uint8Array.from([...modelProto({ irVersion: 8 }), ...bytesField(14, [0x7b])]))?.message).toBe(
      'm.onnx is not a usable ONNX model: a metadata entry is malformed',
    );
  });

  it('says what to do about it, and names "the model" by default', () => {
    expect(() => readOnnxModelInfo(new Uint8Array())).toThrow(
      expect.objectContaining({
        message: 'the model is not a usable ONNX model: the file is empty',
        hint: 'Export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`, and copy the whole file (a cut-short copy or download also shows this).',
      }),
    );
  });
});
