import { describe, expect, it } from 'vitest';
import {
  classNamesProblem,
  featureNamesProblem,
  MAX_CLASS_NAME_LENGTH,
  MAX_CLASS_NAMES_LENGTH,
  METADATA_KEYS,
  MODEL_FORMAT,
  parseClassNames,
  parseFeatureNames,
  readModelMetadata,
} from './index.js';

/** What @hyperproto/onnx writes for an HPN with class names and top-3 (see export-onnx.ts). */
const exported = {
  format: 'hyperproto-classifier',
  formatVersion: '1',
  head: 'hpn',
  strategy: 'optimized',
  classes: '3',
  dims: '2',
  inputWidth: '4',
  input: 'features',
  scoresName: 'scores',
  hiddenUnits: '300',
  hiddenLayers: '2',
  producer: 'hyperproto',
  producerVersion: '0.1.0',
  topK: '3',
  classNames: '["setosa","versicolor","virginica"]',
  seed: '0',
  dataset: 'files',
  featureNames: '["sepal_length","sepal_width","petal_length","petal_width"]',
  labelColumn: 'species',
};

function refusal(run: () => unknown): { code: string; message: string; hint?: string } | undefined {
  try {
    run();
  } catch (error) {
    const { code, message, hint } = error as { code: string; message: string; hint?: string };
    return { code, message, ...(hint === undefined ? {} : { hint }) };
  }
  return undefined;
}

describe('readModelMetadata', () => {
  it('types what the exporter writes', () => {
    expect(readModelMetadata(exported)).toEqual({
      format: 'hyperproto-classifier',
      formatVersion: 1,
      head: 'hpn',
      strategy: 'optimized',
      classes: 3,
      dims: 2,
      inputWidth: 4,
      input: 'features',
      scoresName: 'scores',
      hiddenUnits: 300,
      hiddenLayers: 2,
      producerVersion: '0.1.0',
      topK: 3,
      classNames: ['setosa', 'versicolor', 'virginica'],
      seed: '0',
      dataset: 'files',
      featureNames: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      labelColumn: 'species',
    });
  });

  it('leaves out what is not there, and reads keys exactly (no case folding)', () => {
    expect(readModelMetadata({})).toEqual({});
    expect(readModelMetadata({ Classes: '3', input_width: '4', hyperprotoHead: 'x' })).toEqual({});
    expect(readModelMetadata({ classes: ' 12 ' })).toEqual({ classes: 12 });
  });

  it('refuses counts that are not positive integers, naming the source, key and value', () => {
    expect(refusal(() => readModelMetadata({ classes: 'five' }, 'm.onnx'))).toEqual({
      code: 'E_INVALID_INPUT',
      message: 'm.onnx has unusable metadata: "classes" is "five", not a positive integer',
    });
    expect(refusal(() => readModelMetadata({ inputWidth: '0' }))?.message).toBe(
      'the model has unusable metadata: "inputWidth" is "0", not a positive integer',
    );
    expect(refusal(() => readModelMetadata({ topK: '2.5' }))?.message).toBe(
      'the model has unusable metadata: "topK" is "2.5", not a positive integer',
    );
    expect(refusal(() => readModelMetadata({ dims: '-3' }))?.message).toBe(
      'the model has unusable metadata: "dims" is "-3", not a positive integer',
    );
    expect(refusal(() => readModelMetadata({ hiddenUnits: '' }))?.message).toBe(
      'the model has unusable metadata: "hiddenUnits" is "", not a positive integer',
    );
  });

  it('refuses a newer format version of its own format only', () => {
    expect(refusal(() => readModelMetadata({ format: MODEL_FORMAT, formatVersion: '2' }))).toEqual({
      code: 'E_INVALID_INPUT',
      message: 'the model has unusable metadata: "formatVersion" is 2, newer than the version 1 this runtime reads',
      hint: 'Upgrade @hyperproto/runtime-node or @hyperproto/runtime-web to the version of the exporter that wrote the file.',
    });
    expect(readModelMetadata({ format: 'someone-else', formatVersion: '2' })).toEqual({ format: 'someone-else', formatVersion: 2 });
  });

  it('parses classNames, refusing bad JSON, a non-array, a non-string and the wrong count with a clear message', () => {
    const hint =
      'Export the model again with exportOnnx from @hyperproto/onnx (option classNames), or `hyperproto export RUN_DIR --out model.onnx --class-names FILE` (FILE: a JSON array or one name per line).';
    expect(refusal(() => readModelMetadata({ classes: '3', classNames: '["a","b",' }, 'm.onnx'))).toEqual({
      code: 'E_INVALID_INPUT',
      message: expect.stringMatching(
        /^m\.onnx has unusable metadata: "classNames" is not valid JSON \(.+\): "\[\\"a\\",\\"b\\","; it should be a JSON array of class names$/,
      ),
      hint,
    });
    expect(refusal(() => readModelMetadata({ classNames: 'a\nb\nc' }))?.message).toMatch(
      /^the model has unusable metadata: "classNames" is not valid JSON \(/,
    );
    expect(refusal(() => readModelMetadata({ classNames: '{"0":"a"}' }))?.message).toBe(
      'the model has unusable metadata: "classNames" is "{\\"0\\":\\"a\\"}", not a JSON array of class names',
    );
    expect(refusal(() => readModelMetadata({ classNames: '["a",2,"c"]' }))?.message).toBe(
      'the model has unusable metadata: "classNames" has 2 at index 1; every class name must be a string',
    );
    expect(refusal(() => readModelMetadata({ classes: '3', classNames: '["a","b"]' }))?.message).toBe(
      'the model has unusable metadata: "classNames" has 2 names for 3 classes; it needs one per class',
    );
    // Without a class count the names are taken as they are.
    expect(readModelMetadata({ classNames: '["a","b"]' })).toEqual({ classNames: ['a', 'b'] });
    expect(parseClassNames('[]', undefined)).toEqual([]);
    expect(parseClassNames('["x","y"]', 2, 'm.onnx')).toEqual(['x', 'y']);
  });

  it('loads many classes of real names: 100,000 names of 40 characters, and a name of the longest length', () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `class ${String(i).padStart(6, '0')} ${'n'.repeat(27)}`);
    expect(names[0]).toHaveLength(40);
    expect(readModelMetadata({ classes: '100000', classNames: JSON.stringify(names) }).classNames).toHaveLength(100_000);
    const longest = ['a'.repeat(MAX_CLASS_NAME_LENGTH), 'b'];
    expect(parseClassNames(JSON.stringify(longest), 2)).toEqual(longest);
    expect(classNamesProblem(names)).toBeUndefined();
    expect([MAX_CLASS_NAME_LENGTH, MAX_CLASS_NAMES_LENGTH]).toEqual([1_000, 10_000_000]);
  });

  it('refuses a class name longer than MAX_CLASS_NAME_LENGTH, and names longer than MAX_CLASS_NAMES_LENGTH in all', () => {
    const hint =
      'Shorten the class names (at most 1,000 characters each, 10,000,000 in all) and export the model again with exportOnnx from @hyperproto/onnx (option classNames), or `hyperproto export RUN_DIR --out model.onnx --class-names FILE`.';
    // What a file of 5 names of 4,000,001 characters each (20 MB) holds: every answer naming a class would carry 4 MB.
    const huge = JSON.stringify(['ok', 'x'.repeat(4_000_001), 'c']);
    expect(refusal(() => readModelMetadata({ classes: '3', classNames: huge }, 'm.onnx'))).toEqual({
      code: 'E_INVALID_INPUT',
      message: `m.onnx has unusable metadata: "classNames" has a name of 4,000,001 characters at index 1 ("${'x'.repeat(60)}…"); a class name may have at most 1,000 (MAX_CLASS_NAME_LENGTH)`,
      hint,
    });
    expect(refusal(() => parseClassNames(JSON.stringify(['a'.repeat(MAX_CLASS_NAME_LENGTH + 1)]), 1))?.message).toMatch(
      /"classNames" has a name of 1,001 characters at index 0/,
    );
    // 10,001 names of 1,000 characters: each within the limit, too many characters together.
    const many = Array.from({ length: 10_001 }, (_, i) => String(i).padEnd(MAX_CLASS_NAME_LENGTH, '.'));
    expect(refusal(() => readModelMetadata({ classNames: JSON.stringify(many) }))).toEqual({
      code: 'E_INVALID_INPUT',
      message:
        'the model has unusable metadata: "classNames" has 10,001,000 characters of names in all; the class names of a model may have at most 10,000,000 together (MAX_CLASS_NAMES_LENGTH)',
      hint,
    });
    expect(classNamesProblem(many)).toMatch(/^has 10,001,000 characters of names in all/);
  });

  it('refuses a feature name longer than MAX_CLASS_NAME_LENGTH, and names longer than MAX_CLASS_NAMES_LENGTH in all', () => {
    const hint =
      'Shorten the feature names, the column names of the training data (at most 1,000 characters each, 10,000,000 in all), and export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`.';
    const huge = JSON.stringify(['ok', 'x'.repeat(4_000_001), 'c']);
    expect(refusal(() => readModelMetadata({ inputWidth: '3', featureNames: huge }, 'm.onnx'))).toEqual({
      code: 'E_INVALID_INPUT',
      message: `m.onnx has unusable metadata: "featureNames" has a name of 4,000,001 characters at index 1 ("${'x'.repeat(60)}…"); a feature name may have at most 1,000, as class names (MAX_CLASS_NAME_LENGTH)`,
      hint,
    });
    const longest = ['a'.repeat(MAX_CLASS_NAME_LENGTH), 'b'];
    expect(parseFeatureNames(JSON.stringify(longest), 2)).toEqual(longest);
    expect(refusal(() => parseFeatureNames(JSON.stringify(['a'.repeat(MAX_CLASS_NAME_LENGTH + 1)]), 1))?.message).toMatch(
      /"featureNames" has a name of 1,001 characters at index 0/,
    );
    // 10,001 names of 1,000 characters, within MAX_INPUT_WIDTH features: each name fits, together they do not.
    const many = Array.from({ length: 10_001 }, (_, i) => String(i).padEnd(MAX_CLASS_NAME_LENGTH, '.'));
    expect(refusal(() => readModelMetadata({ featureNames: JSON.stringify(many) }))).toEqual({
      code: 'E_INVALID_INPUT',
      message:
        'the model has unusable metadata: "featureNames" has 10,001,000 characters of names in all; the feature names of a model may have at most 10,000,000 together, as class names (MAX_CLASS_NAMES_LENGTH)',
      hint,
    });
    expect(featureNamesProblem(many.slice(1))).toBeUndefined();
  });

  it('parses featureNames by the rules of classNames, one name per input feature', () => {
    const hint = 'Export the model again with exportOnnx from @hyperproto/onnx, or `hyperproto export RUN_DIR --out model.onnx`.';
    expect(readModelMetadata({ inputWidth: '2', featureNames: '["a b","c"]', labelColumn: 'kind' })).toEqual({
      inputWidth: 2,
      featureNames: ['a b', 'c'],
      labelColumn: 'kind',
    });
    expect(refusal(() => readModelMetadata({ inputWidth: '3', featureNames: '["a","b"]' }, 'm.onnx'))).toEqual({
      code: 'E_INVALID_INPUT',
      message: 'm.onnx has unusable metadata: "featureNames" has 2 names for 3 input features; it needs one per input feature',
      hint,
    });
    expect(refusal(() => readModelMetadata({ featureNames: 'a,b' }))?.message).toMatch(
      /^the model has unusable metadata: "featureNames" is not valid JSON \(.+\): "a,b"; it should be a JSON array of feature names$/,
    );
    expect(refusal(() => readModelMetadata({ featureNames: '"a"' }))?.message).toBe(
      'the model has unusable metadata: "featureNames" is "\\"a\\"", not a JSON array of feature names',
    );
    expect(refusal(() => readModelMetadata({ featureNames: '["a",null]' }))?.message).toBe(
      'the model has unusable metadata: "featureNames" has null at index 1; every feature name must be a string',
    );
    expect(parseFeatureNames('["x"]', undefined)).toEqual(['x']);
  });

  it('uses the key names the exporter writes, each spelt as its name', () => {
    // The keys are part of the file format: files written before a key changed would no longer be read.
    expect(Object.entries(METADATA_KEYS).filter(([name, key]) => name !== key)).toEqual([]);
    expect(Object.keys(METADATA_KEYS).join(' ')).toBe(
      'format formatVersion head strategy classes dims inputWidth input scoresName hiddenUnits hiddenLayers producer producerVersion topK classNames seed dataset featureNames labelColumn',
    );
  });
});
