import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkHeldOutClasses, indexClasses } from './class-index.js';
import { LabelValues } from './label-values.js';
import { clusteredRows, load, tempDir, writeText } from './test-support/dataset-files.js';

/** Labels as a text file `source` holds them, one per line. */
function labelsOf(source: string, texts: readonly string[]): LabelValues {
  const values = new LabelValues(source, 'line');
  texts.forEach((text, i) => values.add(text, i + 1));
  return values;
}

/** Each label's class name after indexing: what a model trained on them answers for each row. */
function classOfEach(texts: readonly string[], classNames?: readonly string[]): string[] {
  const index = indexClasses([labelsOf('y.txt', texts)], classNames && { names: classNames, source: 'names.txt' });
  return [...index.labels[0]!].map((c) => index.classNames?.[c] ?? `#${c}`);
}

function refusal(run: () => unknown): { code: string; message: string; hint?: string } {
  try {
    run();
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  throw new Error('expected a refusal');
}

describe('class names are the labels as the file wrote them', () => {
  it('keeps 1 and 01 two classes, in code-point order', () => {
    const index = indexClasses([labelsOf('y.txt', ['1', '01', '2', '01'])], undefined);
    expect(index.classNames).toEqual(['01', '1', '2']);
    expect([...index.labels[0]!]).toEqual([1, 0, 2, 0]);
  });

  it('names classes 1.0, 2.0, 3.0 as written, and 0.0, 1.0 too (not indices)', () => {
    expect(classOfEach(['2.0', '1.0', '3.0'])).toEqual(['2.0', '1.0', '3.0']);
    const floats = indexClasses([labelsOf('y.txt', ['1.0', '0.0'])], undefined);
    expect([floats.classNames, floats.labelKind]).toEqual([['0.0', '1.0'], 'names']);
  });

  it('sorts plain integers as numbers, anything else by code point', () => {
    expect(indexClasses([labelsOf('y.txt', ['10', '-1', '3', '-2'])], undefined).classNames).toEqual(['-2', '-1', '3', '10']);
    expect(indexClasses([labelsOf('y.txt', ['10', '-1', '+3', '-2'])], undefined).classNames).toEqual(['+3', '-1', '-2', '10']);
    const indices = indexClasses([labelsOf('y.txt', ['2', '0', '1'])], undefined);
    expect([indices.classNames, indices.labelKind, [...indices.labels[0]!]]).toEqual([undefined, 'indices', [2, 0, 1]]);
  });

  it('refuses a held-out label that writes a training class otherwise, and says so', () => {
    const sources = [labelsOf('y.txt', ['1', '2', '1']), labelsOf('vy.txt', ['2', '1.0'])];
    const error = refusal(() => checkHeldOutClasses(sources, indexClasses(sources, undefined)));
    expect(error.message).toBe(
      'label "1.0" at vy.txt line 2 is not a class of the training labels (y.txt); every class needs training rows, so fix the label or add rows of its class to the training data; it is the class "1" written otherwise, and a label is a class by its exact text: write it "1" in every file',
    );
  });

  describe('in files', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    beforeEach(async () => {
      tmp = await tempDir();
    });
    afterEach(async () => {
      await tmp.remove();
    });

    it('a CSV label column and a labels file of 1, 01, 2 give three classes named as written', async () => {
      const { rows, labels } = clusteredRows(3, 10, 2);
      const texts = labels.map((label) => ['1', '01', '2'][label]!);
      const csv = await writeText(tmp.path('x.csv'), ['a,b,zip', ...rows.map((row, i) => `${row.join(',')},${texts[i]}`)].join('\n'));
      const txt = await writeText(tmp.path('y.txt'), texts.join('\n'));
      const data = await writeText(tmp.path('f.csv'), rows.map((row) => row.join(',')).join('\n'));
      for (const options of [
        { data: csv, labelColumn: 'zip' },
        { data, labels: txt },
      ]) {
        const dataset = await load(options);
        expect([dataset.classes, dataset.classNames, dataset.info.labels]).toEqual([3, ['01', '1', '2'], 'names']);
      }
    });
  });
});

describe('labels mapped onto given class names', () => {
  const numbers = ['1', '2', '3'];

  it('never reads a file as indices when a class name is another number', () => {
    // Names written as the model's classes, one stray 0: read as indices, every label would be one class off.
    const stray = refusal(() => classOfEach(['1', '2', '3', '0', '2'], numbers));
    expect(stray.code).toBe(ErrorCode.InvalidInput);
    expect(stray.message).toBe('y.txt line 4: label "0" is not among classNames ("1", "2", "3"); add it to names.txt or fix the label');
    expect(stray.hint).toBe(
      'Write every label as a class name (names.txt: "1", "2", "3"), exactly as written there; as the class names include numbers, labels are never read as class indices.',
    );
    // No label a name at all: still refused, the file could be either.
    expect(refusal(() => classOfEach(['0', '1'], numbers)).message).toMatch(/^y\.txt line 1: label "0" is not among classNames/);
    expect(refusal(() => classOfEach(['0', '1'], ['a', '10'])).message).toMatch(/^y\.txt line 1: label "0" is not among classNames/);
  });

  it('says when a label is a class name written otherwise', () => {
    expect(refusal(() => classOfEach(['1', '2.0'], numbers)).message).toBe(
      'y.txt line 2: label "2.0" is not among classNames ("1", "2", "3"); it is the class "2" written otherwise, and a label is a class by its exact text: write it "2"',
    );
    expect(refusal(() => classOfEach(['01'], numbers)).message).toMatch(/label "01" .* it is the class "1" written otherwise/);
    // Two classes of that number: either could be meant.
    expect(refusal(() => classOfEach(['1.0'], ['01', '1'])).message).toMatch(
      /label "1\.0" is not among classNames \("01", "1"\); add it to names\.txt or fix the label$/,
    );
  });

  it('says when a label is a class name in another Unicode normalisation, showing both escaped', () => {
    // "café" with a combining accent (NFD), where the names have it precomposed (NFC): they print alike.
    expect(refusal(() => classOfEach(['tea', 'cafe\u0301'], ['caf\u00e9', 'tea'])).message).toBe(
      `y.txt line 2: label "cafe\u0301" is not among classNames ("caf\u00e9", "tea"); it is the class "caf\\u00e9" in another Unicode normalisation (here "cafe\\u0301"): the two look the same but are different texts, so normalise the labels to one form (NFC) in the label files and names.txt, e.g. with uconv -x any-nfc or Python's unicodedata.normalize('NFC', label)`,
    );
  });

  it('reads a file of plain integers as indices when no name is another number', () => {
    expect(classOfEach(['2', '0', '1'], ['dog', 'cat', 'emu'])).toEqual(['emu', 'dog', 'cat']);
    // Names that are their own positions (a model without class names) read the same either way.
    expect(classOfEach(['2', '0'], ['0', '1', '2'])).toEqual(['2', '0']);
    expect(classOfEach(['1', '0'], ['0.0', '1.0'])).toEqual(['1.0', '0.0']);
    expect(refusal(() => classOfEach(['0', '1', '5'], ['0', '1', '2'])).message).toMatch(/^y\.txt line 3: label 5 is outside 0\.\.2/);
  });

  it('hints that a file holds names or indices, not both', () => {
    const mixed = refusal(() => classOfEach(['dog', 'cat', '2'], ['dog', 'cat', 'emu']));
    expect(mixed.message).toBe(
      'y.txt line 3: label "2" is not among classNames ("dog", "cat", "emu"); add it to names.txt or fix the label',
    );
    expect(mixed.hint).toBe(
      'Write every label as a class name (names.txt: "dog", "cat", "emu"), or every label as a class index 0..2; one file cannot mix them.',
    );
    expect(refusal(() => classOfEach(['0', '3'], ['dog', 'cat', 'emu'])).hint).toBe(mixed.hint);
  });
});
