import { expect } from 'vitest';
import { readOnnxModelInfo } from '../onnx-model-info.js';

/**
 * The message of readOnnxModelInfo's refusal of `bytes` (read as `m.onnx`), after `m.onnx is not a usable ONNX
 * model: `, having checked that it is an E_INVALID_INPUT HyperprotoError whose hint matches `hint`; undefined if the
 * file is read.
 */
export function refusalOf(bytes: Uint8Array, hint: RegExp): string | undefined {
  try {
    readOnnxModelInfo(bytes, 'm.onnx');
  } catch (error) {
    expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_INPUT', hint: expect.stringMatching(hint) });
    return (error as Error).message.replace(/^m\.onnx is not a usable ONNX model: /, '');
  }
  return undefined;
}
