import { describe, expect, it } from 'vitest';
import { readModelInfo } from './model-info.js';
import { tinyClassifier } from './test-support/models.js';

describe('readModelInfo', () => {
  it('reads the IR version, producer, opsets and metadata_props without decoding the graph', () => {
    const { bytes } = tinyClassifier('hpn', { metadata: { strategy: 'random', classNames: '["a","b","c","d","e"]' } });
    const info = readModelInfo(bytes);
    expect(info.irVersion).toBe(8);
    expect(info.producerName).toBe('hyperproto');
    expect(info.producerVersion).toBe('0.0.0-test');
    expect(info.opsets).toEqual({ '': 17 });
    expect(info.metadata).toMatchObject({ head: 'hpn', classes: '5', dims: '4', inputWidth: '12', strategy: 'random', classNames: '["a","b","c","d","e"]' });
  });

  it('rejects a truncated file, saying it may be truncated', () => {
    const { bytes } = tinyClassifier('softmax');
    expect(() => readModelInfo(bytes.subarray(0, bytes.length - 40))).toThrow(/not a readable ONNX model: .*truncated/);
  });

  it('rejects files that are not ONNX: empty, text, JSON', () => {
    expect(() => readModelInfo(new Uint8Array())).toThrow(/not a readable ONNX model: the file is empty/);
    const encode = (text: string) => new TextEncoder().encode(text);
    expect(() => readModelInfo(encode('hello, this is not a model'))).toThrow(/not a readable ONNX model/);
    expect(() => readModelInfo(encode('{"format": "tfjs-layers-model"}'))).toThrow(/not a readable ONNX model/);
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
