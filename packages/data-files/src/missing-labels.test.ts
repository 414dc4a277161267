import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FilesOptionsInput } from './files-options.js';
import { failure, load, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';

// A label written as a missing value (pandas' NaN written out, R's NA, JSON's null, an empty field) is refused with
// its place and what to do, in every labels file and label column, by the definition feature files use: as a class,
// it would teach the model a class named "nan".

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

/** Six rows of two balanced classes: enough for the default splits. */
const FEATURES = 'a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n';
const FIX = 'every row needs a label: drop the rows whose label is missing (and their features) or fill them in';
/** How pandas, R, spreadsheets and databases write a missing value. */
const TOKENS = ['nan', 'NaN', '-nan', 'NA', 'N/A', '#N/A', 'null', 'NULL', 'None'];

const text = (name: string, content: string) => writeText(tmp.path(name), content);

/** The message of the E_INVALID_INPUT a load is refused with, less the plugin's `dataset:files: ` prefix. */
async function refusal(options: FilesOptionsInput): Promise<string> {
  const error = await failure(load(options));
  expect(error.code, error.message).toBe(ErrorCode.InvalidInput);
  expect(error.message.startsWith('dataset:files: '), error.message).toBe(true);
  return error.message.slice('dataset:files: '.length);
}

describe('a labels text file', () => {
  it('refuses each missing-value spelling with its 1-based line and the fix', async () => {
    const data = await text('x.csv', FEATURES);
    for (const token of TOKENS) {
      const labels = await text('y.txt', `x\ny\nx\n${token}\nx\ny\n`);
      expect(await refusal({ data, labels })).toBe(
        `${labels} line 4: ${JSON.stringify(token)} marks a missing label; ${FIX} (a class really named ${JSON.stringify(token)} needs another name)`,
      );
    }
  });

  it('refuses a quoted or padded one, and "" (a missing value as Python\'s csv module writes it), even on the last line', async () => {
    const data = await text('x.csv', FEATURES);
    const quoted = await text('quoted.txt', 'x\ny\n  "NA" \nx\ny\nx\n');
    expect(await refusal({ data, labels: quoted })).toBe(
      `${quoted} line 3: "NA" marks a missing label; ${FIX} (a class really named "NA" needs another name)`,
    );
    const empty = await text('empty.txt', 'x\ny\nx\ny\nx\n""\n');
    expect(await refusal({ data, labels: empty })).toBe(`${empty} line 6: the label is empty; ${FIX}`);
  });

  it('refuses a blank line before the last label, and still allows blank lines after it', async () => {
    const data = await text('x.csv', FEATURES);
    const gap = await text('gap.txt', 'x\ny\n\nx\ny\nx\ny\n');
    expect(await refusal({ data, labels: gap })).toBe(
      `${gap} line 3 is empty; ${FIX}; write one label per line, with no blank lines between them`,
    );
    const trailing = await load({ data, labels: await text('trailing.txt', 'x\ny\nx\ny\nx\ny\n\n  \n') });
    expect(trailing.classNames).toEqual(['x', 'y']);
  });

  it('reads labels that only contain a spelling as classes', async () => {
    const data = await text('x.csv', FEATURES);
    const dataset = await load({ data, labels: await text('y.txt', 'nano\nNancy\nnano\nNancy\nnano\nNancy\n') });
    expect(dataset.classNames).toEqual(['Nancy', 'nano']);
  });

  it('refuses them in a validation labels file too', async () => {
    const validationLabels = await text('vy.txt', 'x\nnull\n');
    const message = await refusal({
      data: await text('x.csv', FEATURES),
      labels: await text('y.txt', 'x\ny\nx\ny\nx\ny\n'),
      validationData: await text('v.csv', 'a,b\n1,2\n3,4\n'),
      validationLabels,
    });
    expect(message).toBe(
      `${validationLabels} line 2: "null" marks a missing label; ${FIX} (a class really named "null" needs another name)`,
    );
  });
});

describe('every other label source refuses them the same way', () => {
  it('a CSV label column: each spelling and an empty field, with line and column', async () => {
    for (const token of [...TOKENS, '']) {
      const data = await text('x.csv', `a,label,b\n1,x,2\n3,y,4\n5,${token},6\n7,y,8\n9,x,10\n11,y,12\n`);
      const why =
        token === ''
          ? `the label is empty; ${FIX}`
          : `${JSON.stringify(token)} marks a missing label; ${FIX} (a class really named ${JSON.stringify(token)} needs another name)`;
      expect(await refusal({ data, labelColumn: 'label' })).toBe(`${data} line 4, column 2 ("label"): ${why}`);
    }
  });

  it("a JSON-lines label key: a spelling, an empty string, null, and NaN as Python's json.dumps writes it", async () => {
    const line = (label: string) => `{"features": [1, 2], "label": ${label}}`;
    for (const [label, why] of [
      ['"NaN"', `"NaN" marks a missing label; ${FIX} (a class really named "NaN" needs another name)`],
      ['" "', `the label is empty; ${FIX}`],
      ['null', `null marks a missing label; ${FIX}`],
      ['NaN', `NaN marks a missing label; ${FIX}`],
    ] as const) {
      const data = await text('x.jsonl', `${line('"x"')}\n${line('"y"')}\n${line(label)}\n`);
      expect(await refusal({ data, labelColumn: 'label' })).toBe(`${data} line 3, key "label": ${why}`);
    }
    // NaN among the features is still named as a missing feature value.
    const features = await text('f.jsonl', `${line('"x"')}\n{"features": [NaN, 2], "label": NaN}\n`);
    expect(await refusal({ data: features, labelColumn: 'label' })).toBe(
      `${features} line 2, column 1: NaN marks a missing value; every feature needs a value (fill in or drop rows with missing values)`,
    );
  });

  it('.npy labels: a string spelling, and NaN in a float array', async () => {
    const data = await text('x.csv', FEATURES);
    const strings = await writeNpy(tmp.path('s.npy'), '<U3', [6], ['x', 'y', 'nan', 'y', 'x', 'y']);
    expect(await refusal({ data, labels: strings })).toBe(
      `${strings} row 3 (index 2): "nan" marks a missing label; ${FIX} (a class really named "nan" needs another name)`,
    );
    const floats = await writeNpy(tmp.path('f.npy'), '<f8', [6], [0, 1, 0, Number.NaN, 0, 1]);
    expect(await refusal({ data, labels: floats })).toBe(`${floats} row 4 (index 3): NaN marks a missing label; ${FIX}`);
  });

  it('by the definition feature files use: every spelling refused as a label is refused as a feature', async () => {
    const labels = await text('y.txt', 'x\ny\nx\ny\nx\ny\n');
    for (const token of TOKENS) {
      const data = await text('x.csv', `a,b\n1,2\n3,4\n5,${token}\n7,8\n9,10\n11,12\n`);
      expect(await refusal({ data, labels })).toMatch(
        new RegExp(`line 4, column 2 \\("b"\\): ${JSON.stringify(token).replace(/[/#]/g, '\\$&')} marks a missing value`),
      );
    }
  });
});
