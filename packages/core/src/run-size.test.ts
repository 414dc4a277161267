import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { batchRows, largestRunPart, refuseOversizedRun, RUN_SIZE_OPTIONS, type RunSizes } from './run-size.js';

const setters = { outputUnits: RUN_SIZE_OPTIONS.dims, headParams: 'the options of head:test' };
/** The seed's network on the gaussian dataset's 300 inputs, 10 classes, batches of 128. */
const seed: RunSizes = { hiddenUnits: 300, hiddenLayers: 2, inputWidth: 300, classes: 10, outputUnits: 10, batchRows: 128 };
const refusal = (sizes: RunSizes) => {
  try {
    refuseOversizedRun(sizes, setters);
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('refuseOversizedRun', () => {
  it('refuses an output layer of 300 x 100000000 naming --dims and the largest that fits', () => {
    // 12 bytes a weight (value and two moments): 12 x (2 x 300 x 300 + 300 x 1e8) bytes; 8 GiB / 12 = 715,827,882 values.
    expect(refusal({ ...seed, outputUnits: 100_000_000 })).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message:
        "the network's weights with Adam's two moments would need 335.3 GiB, more than the 8 GiB a run may hold " +
        '(its output layer is 300 x 100000000); lower --dims (prototypes.dims) to at most 2385492',
    });
    expect(refusal({ ...seed, outputUnits: 2_385_492 })).toBeUndefined();
    expect(refusal({ ...seed, outputUnits: 2_385_493 })).toBeDefined();
  });

  it('names the hidden width when the hidden layers are what does not fit', () => {
    expect(refusal({ ...seed, hiddenUnits: 100_000_000 })).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(
        /\(its hidden layers are 300 x 100000000 and 1 x \(100000000 x 100000000\)\); lower --hidden-units \(trainer\.hiddenUnits\) to at most 26600$/,
      ),
    });
    expect(refusal({ ...seed, hiddenUnits: 26_600 })).toBeUndefined();
    // Before a dataset without `describe` is read, its input width is not known: left out, not said as 0.
    expect(refusal({ hiddenUnits: 100_000_000, hiddenLayers: 2 })).toMatchObject({
      message: expect.stringMatching(
        /\(its hidden layers are 1 x \(100000000 x 100000000\)\); lower --hidden-units \(trainer\.hiddenUnits\) to at most 26754$/,
      ),
    });
  });

  it('refuses a batch whose activations do not fit, naming --batch-size and the largest that fits', () => {
    // A 100,000-class softmax: 300 inputs + 2 x 300 hidden + 100,000 outputs + 100,000 scores a row.
    const softmax = { ...seed, classes: 100_000, outputUnits: 100_000 };
    expect(refusal({ ...softmax, batchRows: 20_000 })).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message:
        'one batch of 20000 rows would hold 15 GiB of activations, more than the 8 GiB a run may hold (200900 values a row: ' +
        'the inputs, every hidden unit, the output units and the class scores); lower --batch-size (trainer.batchSize) to at most 10689',
    });
    expect(refusal({ ...softmax, batchRows: 10_689 })).toBeUndefined();
  });

  it("names the head's options when its own parameters are the largest part", () => {
    expect(refusal({ ...seed, outputUnits: 1000, headParamValues: 1_000_000_000 })).toMatchObject({
      message: expect.stringMatching(/the head's own parameters hold 1000000000 values\); lower the options of head:test$/),
    });
  });

  it('counts what is not known yet as nothing, and passes the largest shipped presets', () => {
    // Before the data: a batch size past any split is no refusal by itself.
    expect(refusal({ hiddenUnits: 300, hiddenLayers: 2, batchRows: undefined })).toBeUndefined();
    // many-classes: 100,000 classes with a learned 100,000 x 1,000 classifier; collapse: 1,000 hidden units.
    expect(refusal({ ...seed, classes: 100_000, outputUnits: 1000, headParamValues: 100_000 * 1000 + 100_000 })).toBeUndefined();
    expect(refusal({ ...seed, classes: 100_000, outputUnits: 100_000 })).toBeUndefined();
    expect(refusal({ ...seed, hiddenUnits: 1000, classes: 1000, outputUnits: 1000 })).toBeUndefined();
  });
});

describe('batchRows', () => {
  it('is the batch size, or the whole training split where that is smaller', () => {
    expect(batchRows(128, 5000)).toBe(128);
    expect(batchRows(100_000_000, 5000)).toBe(5000);
  });
});

describe('largestRunPart', () => {
  it('finds the part holding the most memory', () => {
    expect(largestRunPart({ ...seed, hiddenUnits: 100_000_000 })).toBe('hidden');
    expect(largestRunPart({ ...seed, outputUnits: 100_000_000 })).toBe('output');
    expect(largestRunPart({ ...seed, classes: 100_000, outputUnits: 100_000, batchRows: 100_000 })).toBe('batch');
  });
});
