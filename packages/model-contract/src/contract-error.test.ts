import { describe, expect, it } from 'vitest';
import {
  ContractErrorCode,
  errorMessage,
  exportInstructions,
  InvalidFeaturesError,
  invalidOptionError,
  ModelContractError,
} from './index.js';
import {
  INPUT_NAME,
  LABEL_OUTPUT,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  RESERVED_NAMES,
  TOPK_LABELS_OUTPUT,
  TOPK_SCORES_OUTPUT,
} from './index.js';

describe('the error class', () => {
  it('is named HyperprotoError with a stable code, hint and cause, so that core and the CLI treat it as their own', () => {
    const cause = new Error('inner');
    const error = new ModelContractError(ContractErrorCode.Io, 'cannot read m.onnx', { cause, hint: 'check the path' });
    expect(error).toBeInstanceOf(Error);
    expect({ name: error.name, code: error.code, message: error.message, hint: error.hint, cause: error.cause }).toEqual({
      name: 'HyperprotoError',
      code: 'E_IO',
      message: 'cannot read m.onnx',
      hint: 'check the path',
      cause,
    });
    expect(new ModelContractError('E_INTERNAL', 'x').hint).toBeUndefined();
  });

  it('uses the values of @hyperproto/core ErrorCode', () => {
    expect(ContractErrorCode).toEqual({
      InvalidInput: 'E_INVALID_INPUT',
      InvalidOptions: 'E_INVALID_OPTIONS',
      Io: 'E_IO',
      NoEngine: 'E_NO_ENGINE',
      Internal: 'E_INTERNAL',
    });
  });

  it('makes feature errors E_INVALID_INPUT with the problem and where', () => {
    const error = new InvalidFeaturesError('row 1, column 2 is NaN', { problem: 'not-finite', row: 1, column: 2 }, 'fix it');
    expect(error).toBeInstanceOf(ModelContractError);
    expect({ code: error.code, detail: error.detail, hint: error.hint }).toEqual({
      code: 'E_INVALID_INPUT',
      detail: { problem: 'not-finite', row: 1, column: 2 },
      hint: 'fix it',
    });
  });

  it('names an option out of range, its rule and the value given (quoted when a string), as E_INVALID_OPTIONS', () => {
    const error = invalidOptionError('maxRows', 'an integer from 1', '10');
    expect(error).toBeInstanceOf(ModelContractError);
    expect({ code: error.code, message: error.message, hint: error.hint }).toEqual({
      code: 'E_INVALID_OPTIONS',
      message: 'maxRows must be an integer from 1, got "10"',
      hint: undefined,
    });
    expect(invalidOptionError('scores', 'true or false', { on: true }).message).toBe('scores must be true or false, got an object');
  });

  it('says how to export a model in library terms first, then the command', () => {
    expect(exportInstructions()).toBe('exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`');
    expect(exportInstructions({ option: 'classNames', flag: '--class-names FILE' })).toBe(
      'exportOnnx from @hyperproto/onnx (option classNames), or `hyperproto export RUN_DIR --out model.onnx --class-names FILE`',
    );
  });

  it('keeps the first lines of a thrown message, where onnxruntime says what it refused, in one line', () => {
    // onnxruntime-node's words for a model whose batch is fixed at 1, run on 8 rows.
    const ort = new Error(
      'Got invalid dimensions for input: features for the following indices\n index: 0 Got: 8 Expected: 1\n Please fix either the inputs/outputs or the model.',
    );
    expect(errorMessage(ort)).toBe(
      'Got invalid dimensions for input: features for the following indices; index: 0 Got: 8 Expected: 1; Please fix either the inputs/outputs or the model.',
    );
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(new Error('first line  \r\n\n\n  second  '))).toBe('first line; second');
  });

  it('leaves out what reads as a stack, and bounds what it keeps', () => {
    expect(errorMessage(new Error('failed here\nStacktrace:\n#0 0x7f00 in f()\nmore'))).toBe('failed here');
    expect(errorMessage(new Error("Cannot find module 'x'\nRequire stack:\n- /a/b.js"))).toBe("Cannot find module 'x'");
    expect(errorMessage(new Error('bad\n    at run (/app/x.js:10:5)\n    at /app/y.js:3:1\n#1 0xdeadbeef in g()'))).toBe('bad');
    // A line that starts with "at" but is no frame is kept.
    expect(errorMessage(new Error('refused\nat least 2 rows are needed'))).toBe('refused; at least 2 rows are needed');
    expect(errorMessage(new Error('1\n2\n3\n4\n5\n6'))).toBe('1; 2; 3; 4');
    const long = errorMessage(new Error('x'.repeat(10_000)));
    expect(long).toHaveLength(500);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('the names', () => {
  it('are those every exported model has', () => {
    expect([INPUT_NAME, LABEL_OUTPUT, TOPK_SCORES_OUTPUT, TOPK_LABELS_OUTPUT]).toEqual(['features', 'label', 'topk_scores', 'topk_labels']);
    expect(RESERVED_NAMES).toEqual(['features', 'label', 'topk_scores', 'topk_labels']);
    expect([MODEL_FORMAT, MODEL_FORMAT_VERSION]).toEqual(['hyperproto-classifier', 1]);
  });
});
