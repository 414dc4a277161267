import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusteredRows, load, splitRows, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

/** All rows of a dataset, sorted, with labels: what must survive any split. */
function allRows(dataset: Awaited<ReturnType<typeof load>>): string[] {
  return (['train', 'validation', 'test'] as const)
    .flatMap((split) => splitRows(dataset, split))
    .map(({ row, label }) => `${label}:${row.map((v) => v.toFixed(4)).join(',')}`)
    .sort();
}

function expected(rows: number[][], labels: number[]): string[] {
  return rows.map((row, i) => `${labels[i]}:${row.map((v) => Math.fround(v).toFixed(4)).join(',')}`).sort();
}

const { rows, labels } = clusteredRows(3, 10, 4);

describe('features formats', () => {
  it('reads a float32 .npy with .npy integer labels', async () => {
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [30, 4], rows.flat());
    const y = await writeNpy(tmp.path('y.npy'), '<i8', [30], labels);
    const dataset = await load({ data, labels: y });
    expect([dataset.classes, dataset.inputWidth, dataset.classNames]).toEqual([3, 4, undefined]);
    expect(allRows(dataset)).toEqual(expected(rows, labels));
    expect(dataset.reference).toBeUndefined();
    expect(dataset.info).toMatchObject({
      generator: 'files',
      classes: 3,
      inputWidth: 4,
      labels: 'indices',
      files: { data, labels: y },
      formats: { data: 'npy' },
      rows: { train: 21, validation: 3, test: 6 },
      perClass: { train: [7, 7, 7], validation: [1, 1, 1], test: [2, 2, 2] },
    });
  });

  it.each([
    ['float64', '<f8', false],
    ['big-endian float32', '>f4', false],
    ['big-endian float64', '>f8', false],
    ['Fortran-order float32', '<f4', true],
    ['Fortran-order float64', '<f8', true],
  ] as const)('reads a %s .npy the same as float32', async (_, descr, fortran) => {
    const values = fortran ? Array.from({ length: 4 }, (_, k) => rows.map((row) => row[k]!)).flat() : rows.flat();
    const data = await writeNpy(tmp.path('x.npy'), descr, [30, 4], values, fortran);
    const y = await writeNpy(tmp.path('y.npy'), '<i4', [30], labels);
    expect(allRows(await load({ data, labels: y }))).toEqual(expected(rows, labels));
  });

  it('reads a CSV with a header and a label column, quoted fields included', async () => {
    const names = ['setosa', 'versicolor', 'virginica'];
    const text = ['a,b,"species",c,d', ...rows.map((row, i) => `${row[0]},${row[1]},"${names[labels[i]!]}",${row[2]}, ${row[3]}`)].join(
      '\r\n',
    );
    const data = await writeText(tmp.path('iris.csv'), `${text}\r\n\r\n`);
    const dataset = await load({ data, labelColumn: 'species' });
    expect(dataset.classNames).toEqual(names);
    expect(dataset.featureNames).toEqual(['a', 'b', 'c', 'd']);
    expect(allRows(dataset)).toEqual(expected(rows, labels));
    expect(dataset.info).toMatchObject({
      labels: 'names',
      columns: ['a', 'b', 'c', 'd'],
      files: { data, labels: `${data} column 3 ("species")` },
    });
  });

  it('reads a CSV without a header, labels from a text file', async () => {
    const data = await writeText(tmp.path('x.csv'), rows.map((row) => row.join(',')).join('\n'));
    const y = await writeText(tmp.path('y.txt'), labels.map((label) => `${label}\n`).join(''));
    const dataset = await load({ data, labels: y });
    expect(dataset.classNames).toBeUndefined();
    expect(dataset.featureNames).toBeUndefined();
    expect(allRows(dataset)).toEqual(expected(rows, labels));
  });

  it('keeps every feature name of a wide CSV on the dataset, while info only counts them', async () => {
    const names = Array.from({ length: 150 }, (_, k) => `f${k}`);
    const lines = labels.map((label, i) => [...names.map((_, k) => String((i + k) % 7)), `c${label}`].join(','));
    const data = await writeText(tmp.path('wide.csv'), [[...names, 'label'].join(','), ...lines].join('\n'));
    const dataset = await load({ data, labelColumn: 'label' });
    expect(dataset.inputWidth).toBe(150);
    expect(dataset.featureNames).toEqual(names);
    expect(dataset.info).toMatchObject({ header: 'names', columnCount: 150 });
    expect(dataset.info.columns).toBeUndefined();
    // A header of column positions names nothing.
    const positions = await writeText(
      tmp.path('positions.csv'),
      ['0,1,2,3,label', ...rows.map((row, i) => `${row.join(',')},c${labels[i]}`)].join('\n'),
    );
    expect((await load({ data: positions, labelColumn: 'label' })).featureNames).toBeUndefined();
  });

  it('accepts every plain decimal spelling in CSV', async () => {
    const data = await writeText(tmp.path('x.csv'), '1,-2.5,.5,1.,+3e2,4E-1\n'.repeat(3) + '0,0,0,0,0,0\n'.repeat(3));
    const y = await writeText(tmp.path('y.txt'), 'a\na\na\nb\nb\nb\n');
    const dataset = await load({ data, labels: y, validationFraction: 0.3, testFraction: 0.3 });
    const first = splitRows(dataset, 'train').find(({ label }) => label === 0)!;
    expect(first.row).toEqual([1, -2.5, 0.5, 1, 300, Math.fround(0.4)]);
  });

  it('reads JSON lines: arrays, or objects with features and a label key', async () => {
    const arrays = await writeText(tmp.path('x.jsonl'), `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`);
    const y = await writeText(tmp.path('y.txt'), labels.join('\n'));
    expect(allRows(await load({ data: arrays, labels: y }))).toEqual(expected(rows, labels));

    const objects = await writeText(
      tmp.path('o.jsonl'),
      rows.map((row, i) => JSON.stringify({ id: i, features: row, label: `c${labels[i]}` })).join('\n'),
    );
    const dataset = await load({ data: objects, labelColumn: 'label' });
    expect(dataset.classNames).toEqual(['c0', 'c1', 'c2']);
    expect(allRows(dataset)).toEqual(expected(rows, labels));
  });

  it.each([
    ['int8', '|i1'],
    ['uint16', '<u2'],
    ['int32', '<i4'],
    ['uint64', '<u8'],
    ['float64 holding whole numbers', '<f8'],
  ] as const)('reads %s labels from .npy', async (_, descr) => {
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [30, 4], rows.flat());
    const y = await writeNpy(tmp.path('y.npy'), descr, [30], descr === '<u8' ? labels.map(BigInt) : labels);
    const dataset = await load({ data, labels: y });
    expect(dataset.classes).toBe(3);
    expect(allRows(dataset)).toEqual(expected(rows, labels));
  });

  it('reads string labels from .npy (<U and |S) and an (N, 1) label column', async () => {
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [30, 4], rows.flat());
    const words = labels.map((label) => ['dog', 'cat', 'émeu'][label]!);
    const unicode = await load({ data, labels: await writeNpy(tmp.path('u.npy'), '<U4', [30], words) });
    expect(unicode.classNames).toEqual(['cat', 'dog', 'émeu']);
    const bytes = await load({
      data,
      labels: await writeNpy(
        tmp.path('s.npy'),
        '|S3',
        [30, 1],
        labels.map((label) => ['dog', 'cat', 'emu'][label]!),
      ),
    });
    expect(bytes.classNames).toEqual(['cat', 'dog', 'emu']);
    expect(bytes.info.perClass).toEqual(unicode.info.perClass);
    // Byte strings in Latin-1 (café and cafè as 0xE9 and 0xE8) are not UTF-8: refused, not merged into one class.
    const latin1 = await writeNpy(
      tmp.path('l.npy'),
      '|S4',
      [30],
      labels.map((label) => ['cafe', 'café', 'cafè'][label]!),
    );
    await expect(load({ data, labels: latin1 })).rejects.toThrow(/l\.npy row 2 \(index 1\): the label's bytes are not UTF-8 text/);
  });
});

describe('labels to classes', () => {
  const data = () => writeNpy(tmp.path('x.npy'), '<f4', [30, 4], rows.flat());

  it('sorts string labels into class names by code point, whatever their order in the file', async () => {
    const words = labels.map((label) => ['zebra', 'Apple', 'mango'][label]!);
    const dataset = await load({ data: await data(), labels: await writeText(tmp.path('y.txt'), words.join('\n')) });
    expect(dataset.classNames).toEqual(['Apple', 'mango', 'zebra']);
    // Class 0 is "Apple", which was label 1 in the generator.
    for (const { row, label } of splitRows(dataset, 'train')) expect(Math.floor(row[0]!)).toBe([1, 2, 0][label]);
  });

  it('keeps plain integer labels 0..C-1 as indices and names other labels, plain integers sorted as numbers', async () => {
    const x = await data();
    const shifted = await load({
      data: x,
      labels: await writeText(tmp.path('y.txt'), labels.map((label) => [10, 2, 33][label]).join('\n')),
    });
    expect(shifted.classNames).toEqual(['2', '10', '33']);
    expect(shifted.info.labels).toBe('names');
    const padded = await load({
      data: x,
      labels: await writeText(tmp.path('z.txt'), labels.map((label) => (label === 1 ? '01' : String(label))).join('\n')),
    });
    // A label is its class by its text: `01` is a name, and the names are sorted by code point.
    expect([padded.classes, padded.classNames, padded.info.labels]).toEqual([3, ['0', '01', '2'], 'names']);
    // pandas writes integer labels as floats when a column had a missing value: names too, as written.
    const floats = await load({ data: x, labels: await writeText(tmp.path('f.txt'), labels.map((label) => `${label}.0`).join('\n')) });
    expect([floats.classes, floats.classNames, floats.info.labels]).toEqual([3, ['0.0', '1.0', '2.0'], 'names']);
  });

  it('takes the class order from classNames (array or file) and maps names or indices through it', async () => {
    const x = await data();
    const words = await writeText(tmp.path('y.txt'), labels.map((label) => ['dog', 'cat', 'emu'][label]).join('\n'));
    const ordered = await load({ data: x, labels: words, classNames: ['emu', 'dog', 'cat', 'yak'].slice(0, 3) });
    expect(ordered.classNames).toEqual(['emu', 'dog', 'cat']);
    for (const { row, label } of splitRows(ordered, 'train'))
      expect(['emu', 'dog', 'cat'][label]).toBe(['dog', 'cat', 'emu'][Math.floor(row[0]!)]);

    const namesFile = await writeText(tmp.path('names.txt'), 'zero\none\ntwo\n\n');
    const indices = await load({ data: x, labels: await writeNpy(tmp.path('y.npy'), '<i8', [30], labels), classNames: namesFile });
    expect(indices.classNames).toEqual(['zero', 'one', 'two']);
    expect(indices.info).toMatchObject({ labels: 'indices', files: { classNames: namesFile } });
    const json = await load({ data: x, labels: words, classNames: await writeText(tmp.path('names.json'), '["cat", "dog", "emu"]') });
    expect(json.classNames).toEqual(['cat', 'dog', 'emu']);
  });
});

describe('the dataset plugin', () => {
  it('reports progress up to the total and stops with E_ABORTED when aborted', async () => {
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [30, 4], rows.flat());
    const y = await writeNpy(tmp.path('y.npy'), '<i8', [30], labels);
    const csv = await writeText(tmp.path('x.csv'), rows.map((row) => row.join(',')).join('\n'));
    for (const features of [data, csv]) {
      const seen: [number, number][] = [];
      await load({ data: features, labels: y, testData: csv, testLabels: y }, 1, { progress: (done, total) => seen.push([done, total]) });
      expect(seen.at(-1)![0], features).toBe(seen.at(-1)![1]);
      expect(
        seen.every(([done, total], i) => done <= total && (i === 0 || done >= seen[i - 1]![0])),
        JSON.stringify(seen),
      ).toBe(true);
    }

    const controller = new AbortController();
    controller.abort();
    const error = await load({ data, labels: y }, 1, { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Aborted });
  });

  it('stops with E_ABORTED when the signal is aborted in the middle of a file', async () => {
    // About 4 MB of CSV: several chunks, so the reader looks at the signal again after the abort.
    const line = Array.from({ length: 40 }, (_, k) => (k * 1.125).toFixed(3)).join(',');
    const data = await writeText(tmp.path('x.csv'), `${line}\n`.repeat(16_000));
    const y = await writeText(tmp.path('y.txt'), 'a\nb\n'.repeat(8_000));
    const controller = new AbortController();
    let calls = 0;
    const progress = () => {
      calls++;
      controller.abort();
    };
    const error = await load({ data, labels: y }, 1, { signal: controller.signal, progress }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.Aborted, message: expect.stringMatching(/interrupted while reading/) });
    expect(calls).toBe(1);
  });
});
