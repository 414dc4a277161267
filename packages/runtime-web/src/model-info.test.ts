import { describe, expect, it } from 'vitest';
import { readModelInfo } from './model-info.js';
import { exportedClassifier } from './test-support/models.js';

describe('readModelInfo', () => {
  it('reads the IR version, producer, opsets and metadata_props of an exported model', () => {
    const { bytes } = exportedClassifier('hpn', { classNames: ['a', 'b', 'c', 'd', 'e'] });
    const info = readModelInfo(bytes);
    expect(info.irVersion).toBe(8);
    expect(info.producerName).toBe('hyperproto');
    expect(info.producerVersion).toBe('0.0.0-test');
    expect(info.docString).toBe('hyperproto hpn classifier: 12 features -> 5 classes');
    expect(info.opsets).toEqual({ '': 17 });
    expect(info.metadata).toMatchObject({
      head: 'hpn',
      classes: '5',
      dims: '4',
      inputWidth: '12',
      strategy: 'random',
      scoresName: 'scores',
      classNames: '["a","b","c","d","e"]',
    });
  });

  it('rejects a truncated file, saying it is truncated', () => {
    const { bytes } = exportedClassifier('softmax');
    expect(() => readModelInfo(bytes.subarray(0, bytes.length - 40), 'm.onnx')).toThrow(
      /^m\.onnx is not a usable ONNX model: the file is truncated/,
    );
  });

  it('rejects files that are not ONNX: empty, text, JSON', () => {
    expect(() => readModelInfo(new Uint8Array())).toThrow('the model is not a usable ONNX model: the file is empty');
    const encode = (text: string) => new TextEncoder().encode(text);
    expect(() => readModelInfo(encode('hello, this is not a model'))).toThrow(/the model is not a usable ONNX model/);
    expect(() => readModelInfo(encode('{"format": "tfjs-layers-model"}'))).toThrow(
      'the model is not a usable ONNX model: byte 0 does not start a protobuf field, so this is not an ONNX (protobuf) file',
    );
  });

  it('marks its errors with the shared invalid-input code', () => {
    try {
      readModelInfo(new Uint8Array([8]));
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_INPUT' });
    }
  });
});
