import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMatrix, createRng } from '@hyperproto/core';
import { writeMatrixNpy } from '@hyperproto/npy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './test-support/run-cli.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

// `predict --labels` scores an exported model on new labelled rows. The expected scores are counted here from
// predict's own per-row answers and the labels this file wrote, so they check the evaluation, not the model.
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-predict-labels-'));
const cli = (args: string[]) => runCli(args, scratch);
const write = (name: string, lines: readonly (string | number)[]) => writeFileSync(join(scratch, name), `${lines.join('\n')}\n`);

const HEADER = ['width', 'kind', 'height', 'depth'];
const FEATURES = ['width', 'height', 'depth'];
const KINDS = ['bolt', 'nut', 'washer'];

/** Rows of 3 classes, each shifted along its own feature by 3, plus uniform noise `spread` wide; seeded. */
function makeRows(count: number, seed: number, spread: number): { features: string[]; kind: number }[] {
  let state = seed;
  const uniform = () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, (_, i) => {
    const kind = i % 3;
    return { features: FEATURES.map((_, k) => ((k === kind ? 3 : 0) + spread * (uniform() - 0.5)).toFixed(4)), kind };
  });
}
const labelled = (rows: { features: string[]; kind: number }[], kindText: (i: number) => string = (i) => KINDS[rows[i]!.kind]!) =>
  rows.map(({ features: [width, height, depth] }, i) => [width, kindText(i), height, depth].join(','));

// Noisy enough that the model gets some rows wrong: an accuracy of 1 would check little.
const test = makeRows(60, 5, 7);
const truth = test.map((row) => row.kind);

/** A .npy file of int64 labels, as np.save(path, y.astype(np.int64)) writes it. */
function writeInt64Npy(name: string, values: readonly number[]): void {
  let header = `{'descr': '<i8', 'fortran_order': False, 'shape': (${values.length},), }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const data = Buffer.alloc(8 * values.length);
  values.forEach((value, i) => data.writeBigInt64LE(BigInt(value), 8 * i));
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  writeFileSync(join(scratch, name), Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]));
}

/** Accuracy and macro-F1 (mean over every class of 2tp / (2tp + fp + fn), 0 for a class with none), counted. */
function expectedScores(predicted: readonly number[], labels: readonly number[], classes: number) {
  const tp = new Array<number>(classes).fill(0);
  const fp = new Array<number>(classes).fill(0);
  const fn = new Array<number>(classes).fill(0);
  predicted.forEach((p, i) => {
    if (p === labels[i]) tp[p]!++;
    else {
      fp[p]!++;
      fn[labels[i]!]!++;
    }
  });
  const f1 = tp.map((t, c) => (2 * t + fp[c]! + fn[c]! === 0 ? 0 : (2 * t) / (2 * t + fp[c]! + fn[c]!)));
  return {
    accuracy: predicted.filter((p, i) => p === labels[i]).length / labels.length,
    macroF1: f1.reduce((a, b) => a + b, 0) / classes,
    tp,
    fp,
    fn,
  };
}

interface Evaluation {
  rows: number;
  labels: string;
  labelsAs: 'names' | 'indices';
  accuracy: number;
  macroF1: number;
  perClass?: { class: number; precision: number; recall: number; f1: number; support: number }[];
}
const predictJson = (run: CliRun) => {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { predictions: { label: number; className?: string }[]; evaluation?: Evaluation; unscored?: string };
};
const expectRefusal = (run: CliRun, message: string) => {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).toContain(`error E_INVALID_INPUT: ${message}`);
  expect(run.stdout).toBe('');
};

let plainWidth = 0;

beforeAll(async () => {
  write('train.csv', [HEADER.join(','), ...labelled(makeRows(150, 7, 2))]);
  write('test.csv', [HEADER.join(','), ...labelled(test)]);
  write('features.csv', [FEATURES.join(','), ...test.map((row) => row.features.join(','))]);
  write(
    'kinds.txt',
    truth.map((c) => KINDS[c]!),
  );
  write('indices.txt', truth);
  writeInt64Npy('indices.npy', truth);
  expect(await trainAndExport('train.csv', 'named')).toMatchObject({ classNames: 3, labelColumn: 'kind' });

  // Generated data has integer classes and no names: its model knows classes 0..2 only.
  const plain = await cli(['train', ...tinyTrainFlags({ maxEpochs: 2 }), '--head', 'softmax', '--out', 'plain', '--json']);
  expect(plain.code, plain.stderr).toBe(0);
  const plainExport = await cli(['export', 'plain', '--out', 'plain.onnx', '--json']);
  expect(plainExport.code, plainExport.stderr).toBe(0);
  expect(JSON.parse(plainExport.stdout)).toMatchObject({ classNames: 0 });
  plainWidth = JSON.parse(plainExport.stdout).inputWidth;
  await writeMatrixNpy(
    join(scratch, 'plain.npy'),
    createMatrix(30, plainWidth, createRng(2).fillNormal(new Float32Array(30 * plainWidth), 0, 1)),
  );
}, 180_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Trains a small softmax on `data` (its label column `kind`) into run `name`, exports `name`.onnx: what export says. */
async function trainAndExport(data: string, name: string): Promise<unknown> {
  const trained = await cli([
    'train',
    ...['--data', data, '--dataset-option', 'labelColumn=kind'],
    ...['--head', 'softmax', '--hidden-units', '16', '--max-epochs', '40', '--out', name, '--json'],
  ]);
  expect(trained.code, trained.stderr).toBe(0);
  const exported = await cli(['export', name, '--out', `${name}.onnx`, '--json']);
  expect(exported.code, exported.stderr).toBe(0);
  return JSON.parse(exported.stdout);
}

describe('predict --labels on a model with class names', () => {
  it('scores class-name labels: the accuracy and macro-F1 of its own answers against the labels', async () => {
    const result = predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt', '--json']));
    const predicted = result.predictions.map((p) => p.label);
    const expected = expectedScores(predicted, truth, 3);
    // Some rows right and some wrong, else the check would be weak.
    expect(expected.accuracy).toBeGreaterThan(0.4);
    expect(expected.accuracy).toBeLessThan(1);
    expect(result.evaluation).toEqual({
      rows: 60,
      labels: 'kinds.txt',
      labelsAs: 'names',
      classes: 3,
      classesInLabels: 3,
      accuracy: expected.accuracy,
      macroF1: expect.closeTo(expected.macroF1, 12),
    });
    // Per-row answers are the same with and without labels.
    expect(predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--json']))).not.toHaveProperty('evaluation');
  });

  it('says when the labels hold rows of only some classes, since macro-F1 counts the others as 0', async () => {
    write(
      'two-kinds.txt',
      truth.map((c) => KINDS[c === 2 ? 0 : c]!),
    );
    const run = await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'two-kinds.txt']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('\n  (the labels hold rows of 2 of the 3 classes: macro-F1 counts the others as 0, read accuracy)\n');
    const all = await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt']);
    expect(all.stderr).not.toContain('macro-F1 counts the others as 0');
  });

  it('maps integer labels, in a .npy file or a text file, to the classes by index, and says so', async () => {
    const byName = predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt', '--json']));
    for (const file of ['indices.npy', 'indices.txt']) {
      const result = predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', file, '--json']));
      expect(result.evaluation).toEqual({ ...byName.evaluation, labels: file, labelsAs: 'indices' });
      // A file of indices in another order than the names scores poorly: the note tells that from a poor model.
      const run = await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', file]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(
        `note: ${file} holds integers: read as positions in the class names of named.onnx (0 = "bolt", 1 = "nut", ...)\n`,
      );
    }
    const names = await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt']);
    expect(names.stderr).not.toContain('note:');
  });

  it("scores a CSV by the model's label column without --labels, and leaves a column with a blank label unscored", async () => {
    const byName = predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt', '--json']));
    const result = predictJson(await cli(['predict', 'named.onnx', '--input', 'test.csv', '--json']));
    expect(result.predictions).toEqual(byName.predictions);
    expect(result.evaluation).toEqual({ ...byName.evaluation, labels: 'test.csv column 2 ("kind")' });

    write('partly.csv', [HEADER.join(','), ...labelled(test, (i) => (i === 3 ? '' : KINDS[test[i]!.kind]!))]);
    const partly = await cli(['predict', 'named.onnx', '--input', 'partly.csv']);
    expect(partly.code, partly.stderr).toBe(0);
    expect(partly.stderr).toContain('partly.csv: left out the label column "kind"\n');
    expect(partly.stderr).toContain('partly.csv: classified, not scored: partly.csv line 5, column 2 ("kind"): the label is empty');
    expect(partly.stderr).not.toMatch(/accuracy/);
    expect(predictJson(await cli(['predict', 'named.onnx', '--input', 'partly.csv', '--json']))).not.toHaveProperty('evaluation');
  });

  it('--per-class gives precision, recall, F1 and support of each class, as the classification evaluator does', async () => {
    const result = predictJson(
      await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt', '--per-class', '--json']),
    );
    const { tp, fp, fn } = expectedScores(
      result.predictions.map((p) => p.label),
      truth,
      3,
    );
    expect(result.evaluation!.perClass).toEqual(
      KINDS.map((_, c) => ({
        class: c,
        precision: tp[c]! + fp[c]! === 0 ? 0 : tp[c]! / (tp[c]! + fp[c]!),
        recall: tp[c]! / 20,
        f1: expect.closeTo((2 * tp[c]!) / (2 * tp[c]! + fp[c]! + fn[c]!), 12),
        support: 20,
      })),
    );
  });

  it('prints the table on stdout and one summary line after it on stderr, in percent', async () => {
    const json = predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt', '--json']));
    const { accuracy, macroF1 } = json.evaluation!;
    const run = await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'kinds.txt']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(61);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      `accuracy ${(100 * accuracy).toFixed(1)}%, macro-F1 ${(100 * macroF1).toFixed(1)}% on 60 rows (labels: kinds.txt)`,
    );
  });

  it('refuses a label that is not a class of the model, naming the file and the line (exit 2)', async () => {
    write(
      'screw.txt',
      truth.map((c, i) => (i === 6 ? 'screw' : KINDS[c]!)),
    );
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'screw.txt']),
      'screw.txt line 7: label "screw" is not among classNames ("bolt", "nut", "washer")',
    );
    write(
      'three.txt',
      truth.map((c, i) => (i === 3 ? 3 : c)),
    );
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'three.txt']),
      'three.txt line 4: label 3 is outside 0..2',
    );
  });

  it('classifies without scoring a label column whose labels are not all classes of the model, when --labels is not given', async () => {
    const byName = predictJson(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--json']));
    for (const odd of ['wolf', '?']) {
      write('odd.csv', [HEADER.join(','), ...labelled(test, (i) => (i === 6 ? odd : KINDS[test[i]!.kind]!))]);
      const run = await cli(['predict', 'named.onnx', '--input', 'odd.csv']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trim().split('\n')).toHaveLength(61);
      expect(run.stderr).toContain(
        `odd.csv: classified, not scored: odd.csv column 2 ("kind") line 8: label ${JSON.stringify(odd)} is not among classNames`,
      );
      expect(run.stderr).not.toMatch(/accuracy|^hint/m);
      const json = predictJson(await cli(['predict', 'named.onnx', '--input', 'odd.csv', '--json']));
      expect(json).not.toHaveProperty('evaluation');
      // --json silences stderr: the reason is in the result.
      expect(json.unscored?.startsWith(`odd.csv column 2 ("kind") line 8: label ${JSON.stringify(odd)} is not among classNames`)).toBe(
        true,
      );
      expect(json.predictions).toEqual(byName.predictions);
    }
    // Asked for with --labels, such a label is refused (above, screw.txt).
  });

  it('refuses labels fewer or more than the rows (exit 2)', async () => {
    write(
      'short.txt',
      truth.slice(0, 59).map((c) => KINDS[c]!),
    );
    // Worded as the files dataset words a labels file of another length: the first row without a label, and why.
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'short.txt']),
      'features.csv has 60 rows but short.txt has only 59 labels: features.csv line 61 has no label; give exactly one label per row, in the same order\n',
    );
    write(
      'nohead.csv',
      test.map((row) => row.features.join(',')),
    );
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'nohead.csv', '--labels', 'short.txt']),
      'nohead.csv has 60 rows but short.txt has only 59 labels: nohead.csv line 60 has no label; give exactly one label per row, in the same order (if nohead.csv line 1 is a header, its names must not be numbers',
    );
    writeInt64Npy('long.npy', [...truth, 0]);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'features.csv', '--labels', 'long.npy']),
      'long.npy has 61 labels but features.csv has 60 rows: long.npy row 61 has no feature row; give exactly one label per row, in the same order\n',
    );
  });

  it('--per-class without labels: refused when the input cannot hold any, said when its label column gave none', async () => {
    const refused = await cli(['predict', 'named.onnx', '--input', 'features.csv', '--per-class']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /^error E_INVALID_OPTIONS: --per-class has nothing to score: no --labels, and features\.csv has no labels \(its header has no column "kind", the label column of named\.onnx\)\nhint: Give --labels FILE/m,
    );
    expect(refused.stdout).toBe('');
    const partly = await cli(['predict', 'named.onnx', '--input', 'partly.csv', '--per-class']);
    expect(partly.code, partly.stderr).toBe(0);
    expect(partly.stderr).toContain('partly.csv: classified, not scored: ');
    expect(partly.stderr).toContain(
      '--per-class: nothing to score: the label column of partly.csv gave no usable labels (said above); fix it, or give --labels FILE\n',
    );
    const json = predictJson(await cli(['predict', 'named.onnx', '--input', 'partly.csv', '--per-class', '--json']));
    expect(json).not.toHaveProperty('evaluation');
    expect(json.unscored?.startsWith('partly.csv line 5, column 2 ("kind"): the label is empty;')).toBe(true);
  });
});

describe('predict --labels on a model whose class names are numbers', () => {
  it('never reads the labels as indices: a stray label that is not a class name is refused, not the file re-read', async () => {
    // Trained on labels written 1, 2, 3: the class names "1", "2", "3" at positions 0, 1, 2.
    write('numbered.csv', [HEADER.join(','), ...labelled(makeRows(150, 7, 2), (i) => String((i % 3) + 1))]);
    expect(await trainAndExport('numbered.csv', 'numbered')).toMatchObject({ classNames: 3 });
    const names = truth.map((c) => String(c + 1));
    write('numbered.txt', names);
    const scored = predictJson(await cli(['predict', 'numbered.onnx', '--input', 'features.csv', '--labels', 'numbered.txt', '--json']));
    expect(scored.evaluation?.accuracy).toBe(
      expectedScores(
        scored.predictions.map((p) => p.label),
        truth,
        3,
      ).accuracy,
    );
    // Read as indices, these labels would all be valid (0..2) and every one would name the wrong class.
    write('stray.txt', ['0', ...names.slice(1)]);
    const stray = await cli(['predict', 'numbered.onnx', '--input', 'features.csv', '--labels', 'stray.txt']);
    expectRefusal(stray, 'stray.txt line 1: label "0" is not among classNames ("1", "2", "3")');
    expect(stray.stderr).toMatch(/never read as class indices/);
  }, 120_000);
});

describe('predict --labels on a model without class names', () => {
  const plainTruth = Array.from({ length: 30 }, (_, i) => (i * 7) % 3);

  it('takes integer labels as class indices 0..C-1', async () => {
    write('plain.txt', plainTruth);
    const result = predictJson(await cli(['predict', 'plain.onnx', '--input', 'plain.npy', '--labels', 'plain.txt', '--json']));
    const expected = expectedScores(
      result.predictions.map((p) => p.label),
      plainTruth,
      3,
    );
    expect(result.evaluation).toEqual({
      rows: 30,
      labels: 'plain.txt',
      labelsAs: 'indices',
      classes: 3,
      classesInLabels: new Set(plainTruth).size,
      accuracy: expected.accuracy,
      macroF1: expect.closeTo(expected.macroF1, 12),
    });
  });

  it('refuses --per-class without --labels: a .npy input holds no labels, nor has the model a label column', async () => {
    const run = await cli(['predict', 'plain.onnx', '--input', 'plain.npy', '--per-class', '--json']);
    expect(run.code, run.stderr).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({
      error: {
        code: 'E_INVALID_OPTIONS',
        message:
          '--per-class has nothing to score: no --labels, and plain.npy has no labels (plain.onnx was trained without a label column)',
      },
    });
  });

  it('refuses an index out of range and a name', async () => {
    write(
      'plain-five.txt',
      plainTruth.map((c, i) => (i === 9 ? 5 : c)),
    );
    const noNames = 'is not a class of plain.onnx: it has no class names, so its labels are the class indices 0..2';
    expectRefusal(
      await cli(['predict', 'plain.onnx', '--input', 'plain.npy', '--labels', 'plain-five.txt']),
      `plain-five.txt line 10: label 5 ${noNames}; write each label as one of 0..2\n`,
    );
    // Labels 1..C: the indices counted from 1.
    write(
      'plain-one-based.txt',
      plainTruth.map((c) => c + 1),
    );
    expectRefusal(
      await cli(['predict', 'plain.onnx', '--input', 'plain.npy', '--labels', 'plain-one-based.txt']),
      `plain-one-based.txt line 3: label 3 ${noNames}; these labels run 1..3, so they look counted from 1: subtract 1 from each\n`,
    );
    write(
      'plain-name.txt',
      plainTruth.map((c, i) => (i === 1 ? 'cat' : c)),
    );
    const named = await cli(['predict', 'plain.onnx', '--input', 'plain.npy', '--labels', 'plain-name.txt']);
    expectRefusal(
      named,
      `plain-name.txt line 2: label "cat" ${noNames}; to score labels by name, export the run again with --class-names FILE`,
    );
    expect(named.stderr).not.toContain('classNames');
  });
});

describe('predict on JSON lines with the label key of a model trained from JSON lines', () => {
  const jsonl = (rows: { features: string[]; kind: number }[], kind: (i: number) => unknown = (i) => KINDS[rows[i]!.kind]) =>
    rows.map(({ features }, i) => JSON.stringify({ features: features.map(Number), kind: kind(i) }));

  beforeAll(async () => {
    write('train.jsonl', jsonl(makeRows(150, 7, 2)));
    expect(await trainAndExport('train.jsonl', 'lines')).toMatchObject({ labelColumn: 'kind' });
  }, 120_000);

  it('scores the rows by the key without --labels, as --labels with the same labels does', async () => {
    write('test.jsonl', jsonl(test));
    const result = predictJson(await cli(['predict', 'lines.onnx', '--input', 'test.jsonl', '--per-class', '--json']));
    const byFile = predictJson(
      await cli(['predict', 'lines.onnx', '--input', 'test.jsonl', '--labels', 'kinds.txt', '--per-class', '--json']),
    );
    expect(result.predictions).toEqual(byFile.predictions);
    expect(result.evaluation).toEqual({ ...byFile.evaluation, labels: 'test.jsonl key "kind"' });
    expect(result.evaluation!.accuracy).toBeGreaterThan(0.4);
  });

  it('classifies without scoring when a row lacks the key or its label is not a class; says nothing for rows without any', async () => {
    write(
      'missing.jsonl',
      jsonl(test, (i) => (i === 2 ? undefined : KINDS[test[i]!.kind])),
    );
    write(
      'wolf.jsonl',
      jsonl(test, (i) => (i === 4 ? 'wolf' : KINDS[test[i]!.kind])),
    );
    write(
      'bare.jsonl',
      jsonl(test, () => undefined),
    );
    for (const [file, reason] of [
      ['missing.jsonl', 'missing.jsonl line 3: label "kind" is missing'],
      ['wolf.jsonl', 'wolf.jsonl key "kind" line 5: label "wolf" is not among classNames'],
    ] as const) {
      const run = await cli(['predict', 'lines.onnx', '--input', file]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain(`${file}: classified, not scored: ${reason}`);
      expect(run.stderr).not.toMatch(/accuracy/);
    }
    const bare = await cli(['predict', 'lines.onnx', '--input', 'bare.jsonl']);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stderr).not.toMatch(/not scored|accuracy/);
    const perClass = await cli(['predict', 'lines.onnx', '--input', 'bare.jsonl', '--per-class']);
    expect(perClass.code).toBe(2);
    expect(perClass.stderr).toContain('bare.jsonl has no labels (its first row has no key "kind", the label column of lines.onnx)');
  });
});
