import { createRng, resolveOptions, type TrainerSettings } from '@hyperproto/core';
import softmaxHead from '@hyperproto/head-softmax';
import { initialMlpWeights, mlpShape } from '@hyperproto/mlp';
import { MAX_INPUT_WIDTH, METADATA_KEYS, readModelMetadata, readOnnxModelInfo } from '@hyperproto/model-contract';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { type ExportableModel, exportOnnx } from './index.js';

const trainer: Pick<TrainerSettings, 'hiddenUnits' | 'hiddenLayers'> = { hiddenUnits: 6, hiddenLayers: 1 };

/** A 4-feature, 3-class softmax network at its starting weights: what is written around the graph is the subject. */
function smallModel(): ExportableModel {
  const head = softmaxHead.build({ classes: 3 }, resolveOptions(softmaxHead, {}));
  return { inputWidth: 4, classes: 3, head, trainer, weights: initialMlpWeights(mlpShape(4, trainer, head), createRng(0)) };
}

const columns = {
  classNames: ['setosa', 'versicolor', 'virginica'],
  featureNames: ['sepal length', 'sepal width', 'petal length', 'petal width'],
  labelColumn: 'species',
};

describe('exportOnnx metadata from its options', () => {
  it('writes featureNames, labelColumn and classNames under the keys the runtimes read', async () => {
    const bytes = exportOnnx(smallModel(), { metadata: { head: 'softmax', seed: '3', dataset: 'files' }, ...columns });
    const raw = readOnnxModelInfo(bytes).metadata;
    expect(raw[METADATA_KEYS.featureNames]).toBe('["sepal length","sepal width","petal length","petal width"]');
    expect(raw[METADATA_KEYS.labelColumn]).toBe('species');
    expect(readModelMetadata(raw)).toMatchObject({ ...columns, head: 'softmax', seed: '3', dataset: 'files', inputWidth: 4, classes: 3 });
    // onnxruntime loads the file as it is.
    const session = await ort.InferenceSession.create(bytes);
    expect(session.inputNames).toEqual(['features']);
    await session.release();
  });

  it('leaves the keys out when the options are not given', () => {
    const raw = readOnnxModelInfo(exportOnnx(smallModel(), { metadata: { head: 'softmax' } })).metadata;
    expect(Object.keys(raw)).not.toContain(METADATA_KEYS.featureNames);
    expect(Object.keys(raw)).not.toContain(METADATA_KEYS.labelColumn);
  });

  it('refuses a feature list of the wrong length, an empty label column, and those entries in `metadata`', () => {
    const model = smallModel();
    expect(() => exportOnnx(model, { metadata: { head: 'softmax' }, featureNames: ['a', 'b'] })).toThrow(
      'cannot export to ONNX: 2 feature names for 4 input features; give exactly one string per feature',
    );
    expect(() => exportOnnx(model, { metadata: { head: 'softmax' }, labelColumn: '' })).toThrow(
      'cannot export to ONNX: the label column must be a non-empty string, got ""',
    );
    expect(() => exportOnnx(model, { metadata: { head: 'softmax', featureNames: '["a","b","c","d"]', labelColumn: 'y' } })).toThrow(
      "metadata.featureNames, metadata.labelColumn: pass featureNames, labelColumn as exportOnnx's own options, not in metadata",
    );
  });
});

describe('exportOnnx class names', () => {
  it('refuses a name longer than the runtimes load, naming its index and length', () => {
    const classNames = ['a', 'b'.repeat(1_001), 'c'];
    expect(() => exportOnnx(smallModel(), { metadata: { head: 'softmax' }, classNames })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_INPUT',
        message: expect.stringMatching(/^cannot export to ONNX: .*1,001 characters at index 1/),
      }),
    );
    const longest = ['a', 'b'.repeat(1_000), 'c'];
    expect(readOnnxModelInfo(exportOnnx(smallModel(), { metadata: { head: 'softmax' }, classNames: longest })).metadata.classNames).toBe(
      JSON.stringify(longest),
    );
  });
});

describe('exportOnnx feature names', () => {
  it('refuses a name longer than the runtimes load, naming its index and length', () => {
    const featureNames = ['a', 'b', 'c'.repeat(1_001), 'd'];
    expect(() => exportOnnx(smallModel(), { metadata: { head: 'softmax' }, featureNames })).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_INPUT',
        message: `cannot export to ONNX: featureNames has a name of 1,001 characters at index 2 ("${'c'.repeat(60)}…"); a feature name may have at most 1,000, as class names (MAX_CLASS_NAME_LENGTH)`,
      }),
    );
    const longest = ['a', 'b', 'c'.repeat(1_000), 'd'];
    const written = readOnnxModelInfo(exportOnnx(smallModel(), { metadata: { head: 'softmax' }, featureNames: longest })).metadata;
    expect(readModelMetadata(written).featureNames).toEqual(longest);
  });
});

describe('exportOnnx metadata from a JavaScript caller', () => {
  it.each<[string, unknown, string]>([
    ['no options', undefined, "exportOnnx's options need metadata, an object of strings naming at least the head"],
    ['no metadata', {}, "exportOnnx's options need metadata, an object of strings naming at least the head"],
    [
      'metadata without the head',
      { metadata: { seed: '0' } },
      "metadata.head is missing: name the head plugin (metadata: { head: 'hpn' })",
    ],
    ['an empty head', { metadata: { head: '' } }, 'metadata.head must be a non-empty string (the head plugin\'s name), got ""'],
    ['a number where text belongs', { metadata: { head: 'softmax', seed: 0 } }, 'metadata.seed must be a string, got 0'],
  ])('refuses %s with E_INVALID_OPTIONS and an example', (_, options, message) => {
    expect(() => exportOnnx(smallModel(), options as Parameters<typeof exportOnnx>[1])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_OPTIONS', message, hint: expect.stringContaining("metadata: { head: 'hpn'") }),
    );
  });
});

describe('exportOnnx input width', () => {
  it('refuses one the runtimes would refuse to load, as the model contract sets it', () => {
    // The widths are checked before the weights: these models' weights are the 4-feature network's.
    for (const inputWidth of [MAX_INPUT_WIDTH + 1, 0, 2.5])
      expect(() => exportOnnx({ ...smallModel(), inputWidth }, { metadata: { head: 'softmax' } })).toThrow(
        `cannot export to ONNX: the model's input width must be an integer from 1 to 1,000,000 (the most the runtimes load), got ${inputWidth}`,
      );
  });
});
