import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMatrixNpy, writeMatrixNpy } from '@hyperproto/npy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const scratch = join(resolve(fileURLToPath(import.meta.url), '../..'), 'test-output-own-data');
const cli = (args: string[]) => runCli(args, scratch);
const NAMES = ['cat', 'dog', 'eel'];
const FAST = ['--max-epochs', '15', '--hidden-units', '32'];

/** 3 classes in 16 dimensions, each shifted along its own axis, with string labels; seeded. */
async function writeOwnData(): Promise<void> {
  let state = 11;
  const uniform = () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const rows = 450;
  const width = 16;
  const features = new Float32Array(rows * width);
  const labels: string[] = [];
  for (let i = 0; i < rows; i++) {
    const c = i % 3;
    labels.push(NAMES[c]!);
    for (let k = 0; k < width; k++) features[i * width + k] = (k === c ? 3 : 0) + 2 * (uniform() + uniform() + uniform() - 1.5);
  }
  await writeMatrixNpy(join(scratch, 'X.npy'), { rows, cols: width, data: features });
  writeFileSync(join(scratch, 'labels.txt'), `${labels.join('\n')}\n`);
  writeFileSync(join(scratch, 'short-labels.txt'), `${labels.slice(0, 400).join('\n')}\n`);
}

beforeAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  await writeOwnData();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('training on your own features and labels', () => {
  it('says when the test split holds rows of only some classes, since macro-F1 counts the others as 0', async () => {
    // Rows of two of the three classes (the labels take turns: cat, dog, eel) as the test split.
    const keep = Array.from({ length: 450 }, (_, i) => i).filter((i) => i >= 300 && i % 3 !== 2);
    const labels = readFileSync(join(scratch, 'labels.txt'), 'utf8').trim().split('\n');
    writeFileSync(join(scratch, 'two-labels.txt'), `${keep.map((i) => labels[i]).join('\n')}\n`);
    const features = await readMatrixNpy(join(scratch, 'X.npy'));
    await writeMatrixNpy(join(scratch, 'two.npy'), {
      rows: keep.length,
      cols: features.cols,
      data: Float32Array.from(keep.flatMap((i) => [...features.data.subarray(i * features.cols, (i + 1) * features.cols)])),
    });
    const run = await cli([
      'train',
      ...['--dataset', 'files', '--data', 'X.npy', '--labels', 'labels.txt', '--test-data', 'two.npy', '--test-labels', 'two-labels.txt'],
      ...[...FAST, '--head', 'softmax', '--out', 'two-classes'],
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /\n {2}test macro-F1 [\d.]+% {3}accuracy [\d.]+%\n {2}\(the test split holds rows of 2 of the 3 classes: macro-F1 counts the others as 0, read accuracy\)\n/,
    );
    expect(JSON.parse(readFileSync(join(scratch, 'two-classes/metrics.json'), 'utf8')).classesInTest).toBe(2);
  });

  it('trains softmax and an HPN beside the class-mean baseline, exports the better one, and predicts class names', async () => {
    const files = ['--dataset', 'files', '--data', 'X.npy', '--labels', 'labels.txt', ...FAST];
    const softmax = await cli(['train', ...files, '--head', 'softmax', '--out', 'softmax', '--json']);
    expect(softmax.code, softmax.stderr).toBe(0);
    const hpn = await cli([
      'train',
      ...files,
      '--head',
      'hpn',
      '--prototypes',
      'spread',
      '--dims',
      '8',
      '--prototypes-option',
      'steps=50',
      '--out',
      'hpn',
      '--json',
    ]);
    expect(hpn.code, hpn.stderr).toBe(0);
    const [a, b] = [JSON.parse(softmax.stdout), JSON.parse(hpn.stdout)];
    for (const summary of [a, b]) {
      expect(summary.classes).toBe(3);
      expect(summary.classesInTest).toBe(3);
      expect(summary.bayes).toBeNull();
      expect(summary.reference).toBeNull();
      expect(summary.classMean.macroF1).toBeGreaterThan(0.8);
      expect(summary.test.macroF1).toBeGreaterThan(0.7);
    }
    expect(b.prototypes).toMatchObject({ strategy: 'spread', dims: 8, options: { steps: 50 } });
    const metrics = JSON.parse(readFileSync(join(scratch, 'hpn/metrics.json'), 'utf8'));
    expect(metrics.dataset.rows).toEqual({ train: expect.any(Number), validation: expect.any(Number), test: expect.any(Number) });
    expect(metrics.baseline.classification.macroF1).toBe(b.classMean.macroF1);
    // String labels become sorted class names: class i of perClass is classNames[i].
    expect(metrics.classNames).toEqual(NAMES);
    expect(metrics.evaluators.classification.perClass.map((c: { support: number }) => c.support)).toEqual(
      NAMES.map(() => metrics.dataset.rows.test / 3),
    );

    const better = a.test.macroF1 >= b.test.macroF1 ? 'softmax' : 'hpn';
    const exported = await cli(['export', better, '--out', 'best.onnx', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const predicted = await cli(['predict', 'best.onnx', '--input', 'X.npy', '--json']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const classNames = JSON.parse(predicted.stdout)
      .predictions.slice(0, 30)
      .map((p: { className: string }) => p.className);
    expect(new Set(classNames)).toEqual(new Set(NAMES));
    // Rows cycle cat, dog, eel: most of them come back as written.
    expect(classNames.filter((name: string, i: number) => name === NAMES[i % 3]).length).toBeGreaterThan(20);
  });

  const files = ['--dataset', 'files', '--data', 'X.npy'];
  it.each([
    ['labels shorter than the data', [...files, '--labels', 'short-labels.txt'], 'short', [/short-labels\.txt/, /400/]],
    [
      'an unknown head option',
      [...files, '--labels', 'labels.txt', '--head', 'softmax', '--head-option', 'temperature=2'],
      'bad-head',
      [/head:softmax/, /temperature/],
    ],
    [
      'a dataset option of the wrong type',
      [...files, '--labels', 'labels.txt', '--dataset-option', 'testFraction=lots'],
      'bad-type',
      [/dataset:files testFraction/],
    ],
    ['gaussian data without a class count', ['--dataset', 'gaussian'], 'no-classes', [/the gaussian dataset needs --classes N/]],
    ['files without --data', ['--dataset', 'files', '--labels', 'labels.txt'], 'no-data', [/--dataset files needs --data FILE/]],
    [
      "the generator's flags with files",
      ['--data', 'X.npy', '--labels', 'labels.txt', '--classes', '3', '--sigma', '1'],
      'generator-flags',
      [/--classes, --sigma are for the gaussian dataset/],
    ],
    ['files with --dataset gaussian', ['--dataset', 'gaussian', '--data', 'X.npy'], 'gaussian-files', [/--data is for --dataset files/]],
  ])('refuses %s before training (exit 2), naming the file or option, and leaves nothing behind', async (_what, args, out, messages) => {
    const run = await cli(['train', ...args, '--out', out]);
    expect(run.code).toBe(2);
    for (const message of messages) expect(run.stderr).toMatch(message);
    expect(existsSync(join(scratch, out)), out).toBe(false);
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });
});

describe('data inspect on your own files', () => {
  it('makes the splits train makes (--data alone selects the files dataset) and scores the same class-mean baseline', async () => {
    const inspected = await cli(['data', 'inspect', '--data', 'X.npy', '--labels', 'labels.txt', '--split', 'test', '--json']);
    expect(inspected.code, inspected.stderr).toBe(0);
    const report = JSON.parse(inspected.stdout);
    const trained = await cli([
      'train',
      '--data',
      'X.npy',
      '--labels',
      'labels.txt',
      ...FAST,
      '--max-epochs',
      '1',
      '--out',
      'inspected',
      '--json',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    const run = JSON.parse(trained.stdout);
    const metrics = JSON.parse(readFileSync(join(scratch, 'inspected/metrics.json'), 'utf8'));
    expect(report).toMatchObject({ dataset: { name: 'files' }, classes: 3, inputWidth: 16, split: 'test', bayes: null });
    expect(report.rows).toEqual(metrics.dataset.rows);
    expect(report.rows.train + report.rows.validation + report.rows.test).toBe(450);
    expect(report.classMean).toEqual(run.classMean);
  });
});
