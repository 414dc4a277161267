import { describe, expect, it } from 'vitest';
import { MAX_INPUT_WIDTH, resolveClassifierInterface, selfCheckBatch, valueInfoOf, type ValueInfo } from './index.js';

/** The interface of a softmax model exported with top-3 and class names, as onnxruntime reports it. */
const softmaxIo = {
  inputs: [{ name: 'features', type: 'float32', shape: ['N', 8] }],
  outputs: [
    { name: 'probabilities', type: 'float32', shape: ['N', 5] },
    { name: 'label', type: 'int64', shape: ['N'] },
    { name: 'topk_scores', type: 'float32', shape: ['N', 3] },
    { name: 'topk_labels', type: 'int64', shape: ['N', 3] },
  ],
} satisfies { inputs: ValueInfo[]; outputs: ValueInfo[] };
const softmaxMetadata = {
  head: 'softmax',
  classes: '5',
  inputWidth: '8',
  scoresName: 'probabilities',
  topK: '3',
  classNames: '["ant","bee","cat","dog","eel"]',
};
const FEATURES = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8'];

const refusal = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    expect(error).toMatchObject({ name: 'HyperprotoError', code: 'E_INVALID_INPUT' });
    return (error as Error).message.replace(/^m\.onnx is not a classifier this runtime can serve: /, '');
  }
  return undefined;
};

describe('resolveClassifierInterface', () => {
  it('reads an exported model: input, width, scores, classes, label, top-k, names', () => {
    expect(resolveClassifierInterface(softmaxIo, softmaxMetadata, 'm.onnx')).toEqual({
      inputName: 'features',
      inputWidth: 8,
      scoresName: 'probabilities',
      classes: 5,
      labelName: 'label',
      modelTopK: 3,
      metadata: {
        head: 'softmax',
        classes: 5,
        inputWidth: 8,
        scoresName: 'probabilities',
        topK: 3,
        classNames: ['ant', 'bee', 'cat', 'dog', 'eel'],
      },
      classNames: ['ant', 'bee', 'cat', 'dog', 'eel'],
    });
  });

  it('finds the one float matrix as the scores when the metadata does not name it, and takes sizes from metadata when shapes are symbolic', () => {
    const io = {
      inputs: [{ name: 'x', type: 'float32', shape: ['N', 'W'] }],
      outputs: [
        { name: 'cosines', type: 'float32', shape: ['N', 'C'] },
        { name: 'topk_scores', type: 'float32', shape: ['N', 'K'] },
        { name: 'topk_labels', type: 'int64', shape: ['N', 'K'] },
      ],
    };
    expect(resolveClassifierInterface(io, { inputWidth: '4', classes: '6', topK: '2' })).toMatchObject({
      inputName: 'x',
      inputWidth: 4,
      scoresName: 'cosines',
      classes: 6,
      labelName: undefined,
      modelTopK: 2,
      classNames: undefined,
    });
    // Only one of the two top-k outputs: no model top-k.
    expect(
      resolveClassifierInterface({ ...io, outputs: io.outputs.slice(0, 2) }, { inputWidth: '4', classes: '6', topK: '2' }).modelTopK,
    ).toBe(0);
  });

  it('turns onnxruntime value metadata into ValueInfo', () => {
    expect(valueInfoOf({ name: 'features', isTensor: true, type: 'float32', shape: ['N', 8] })).toEqual({
      name: 'features',
      type: 'float32',
      shape: ['N', 8],
    });
    expect(valueInfoOf({ name: 'map', isTensor: false })).toEqual({ name: 'map', type: 'non-tensor' });
  });

  it('refuses what breaks the contract, naming the rule', () => {
    const run = (io: Partial<typeof softmaxIo>, metadata: Record<string, string> = softmaxMetadata) =>
      refusal(() => resolveClassifierInterface({ ...softmaxIo, ...io }, metadata, 'm.onnx'));
    const outputs = softmaxIo.outputs;
    expect(run({ inputs: [softmaxIo.inputs[0]!, { name: 'mask', type: 'float32', shape: ['N', 8] }] })).toBe(
      'it has 2 inputs (features, mask), not 1',
    );
    expect(run({ inputs: [{ name: 'features', type: 'float32', shape: ['N', 2, 2] }] })).toBe(
      'its input "features" is not a float32 matrix [N, width]',
    );
    expect(run({ inputs: [{ name: 'features', type: 'int64', shape: ['N', 8] }] })).toBe(
      'its input "features" is not a float32 matrix [N, width]',
    );
    expect(run({ inputs: [{ name: 'features', type: 'float32', shape: ['N', 9] }] })).toBe(
      'its input "features" has 9 features, but its metadata inputWidth says 8',
    );
    expect(run({ inputs: [{ name: 'features', type: 'float32', shape: ['N', 'W'] }] }, { head: 'softmax' })).toBe(
      'the width of its input "features" is unknown: neither its shape nor metadata inputWidth gives it',
    );
    expect(run({}, { ...softmaxMetadata, scoresName: 'logits' })).toBe(
      'its metadata scoresName names "logits", which is not one of its outputs (probabilities, label, topk_scores, topk_labels)',
    );
    expect(run({}, { ...softmaxMetadata, scoresName: 'label' })).toBe('its score output "label" is not a float32 matrix [N, classes]');
    expect(run({ outputs: [outputs[1]!] }, { inputWidth: '8' })).toBe('it has no float32 score output [N, classes] (outputs: label)');
    expect(run({ outputs: [outputs[0]!, { name: 'embedding', type: 'float32', shape: ['N', 16] }] }, { inputWidth: '8' })).toBe(
      'it has several float32 matrix outputs (probabilities, embedding) and no metadata scoresName to say which holds the scores',
    );
    expect(run({}, { ...softmaxMetadata, classes: '4', classNames: '["a","b","c","d"]' })).toBe(
      'its score output "probabilities" has 5 classes, but its metadata classes says 4',
    );
    expect(run({ outputs: [{ name: 'probabilities', type: 'float32', shape: ['N', 'C'] }] }, { inputWidth: '8' })).toBe(
      'the class count of "probabilities" is unknown: neither its shape nor metadata classes gives it',
    );
  });

  it('refuses an input wider than MAX_INPUT_WIDTH, from metadata or shape, before anything of that width is made', () => {
    const dynamic = { ...softmaxIo, inputs: [{ name: 'features', type: 'float32', shape: ['N', 'W'] }] };
    const width = (inputWidth: string) => refusal(() => resolveClassifierInterface(dynamic, { ...softmaxMetadata, inputWidth }, 'm.onnx'));
    expect(MAX_INPUT_WIDTH).toBe(1_000_000);
    // 2e8 features would make the self-check's 8 rows 6.4 GB; 1e12 more than a typed array can hold.
    expect(width('200000000')).toBe(
      'its input "features" would take 200000000 features (from its metadata inputWidth), more than the 1,000,000 a runtime takes',
    );
    expect(width('1000000000000')).toMatch(/would take 1000000000000 features/);
    const wide = { ...softmaxIo, inputs: [{ name: 'features', type: 'float32', shape: ['N', 2 ** 40] }] };
    const { inputWidth: _, ...withoutWidth } = softmaxMetadata;
    expect(refusal(() => resolveClassifierInterface(wide, withoutWidth, 'm.onnx'))).toBe(
      `its input "features" would take ${2 ** 40} features (from its shape), more than the 1,000,000 a runtime takes`,
    );
    expect(resolveClassifierInterface(dynamic, { ...softmaxMetadata, inputWidth: '1000000' }).inputWidth).toBe(MAX_INPUT_WIDTH);
    // The self-check's rows refuse such a width too, rather than fail with a RangeError.
    expect(() => selfCheckBatch(1e12)).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_INPUT',
        message: "a model's input width must be an integer from 1 to 1000000, got 1000000000000",
      }),
    );
  });

  it('gives the feature names, checked against the width of the input when the metadata has no inputWidth', () => {
    const named = { ...softmaxMetadata, featureNames: JSON.stringify(FEATURES) };
    expect(resolveClassifierInterface(softmaxIo, named).featureNames).toEqual(FEATURES);
    expect(resolveClassifierInterface(softmaxIo, softmaxMetadata).featureNames).toBeUndefined();
    const { inputWidth: _, ...withoutWidth } = named;
    expect(resolveClassifierInterface(softmaxIo, withoutWidth).featureNames).toEqual(FEATURES);
    expect(refusal(() => resolveClassifierInterface(softmaxIo, { ...withoutWidth, featureNames: '["a","b"]' }, 'm.onnx'))).toBe(
      'm.onnx has unusable metadata: "featureNames" has 2 names for 8 input features; it needs one per input feature',
    );
  });

  it('checks class names against the class count of the scores when the metadata has no classes', () => {
    const { classes: _, ...withoutClasses } = softmaxMetadata;
    expect(refusal(() => resolveClassifierInterface(softmaxIo, { ...withoutClasses, classNames: '["a","b"]' }, 'm.onnx'))).toBe(
      'm.onnx has unusable metadata: "classNames" has 2 names for 5 classes; it needs one per class',
    );
  });
});
