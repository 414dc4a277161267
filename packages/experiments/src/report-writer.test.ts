import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandGrid } from './grid-expansion.js';
import { parseGrid } from './grid-schema.js';
import { RECORD_FORMAT, type RunRecord } from './run-record.js';
import { writeReport } from './report-writer.js';

// Every cell of the study's Table 2 is in the grid (so its comparison applies); only some have results.
const grid = parseGrid({
  name: 'mini-seed',
  seeds: 2,
  datasets: [
    { id: 'c10', label: '10', name: 'gaussian', options: { classes: 10 } },
    { id: 'c1000', label: '1000', name: 'gaussian', options: { classes: 1000 } },
    { id: 'c100', label: '100', name: 'gaussian', options: { classes: 100 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'optimized-10', label: '10', head: 'hpn', prototypes: { strategy: 'optimized', dims: 10 } },
    { id: 'optimized-100', label: '100', head: 'hpn', prototypes: { strategy: 'optimized', dims: 100 } },
    { id: 'optimized-1000', label: '1000', head: 'hpn', prototypes: { strategy: 'optimized', dims: 1000 } },
    { id: 'random-10', label: 'r10', head: 'hpn', prototypes: { strategy: 'random', dims: 10 } },
    { id: 'random-100', label: 'r100', head: 'hpn', prototypes: { strategy: 'random', dims: 100 } },
    { id: 'random-1000', label: 'r1000', head: 'hpn', prototypes: { strategy: 'random', dims: 1000 } },
  ],
  calibration: { model: 'softmax' },
  published: {
    source: 'the study: Tables 2 and 3',
    macroF1: {
      c10: { softmax: 91.3, 'optimized-10': 91.2, 'random-10': 78.22 },
      c1000: { softmax: 83.8, 'optimized-100': 58.3, 'optimized-1000': 47.3 },
    },
    convergenceEpochs: { c10: { softmax: 50, 'optimized-10': 69 } },
  },
});

/** macro-F1 (fraction) per seed for each cell; cells left out are "missing". */
const scores: Record<string, [number, number]> = {
  'c10/softmax': [0.9, 0.92],
  'c10/optimized-10': [0.91, 0.915],
  'c10/optimized-100': [0.93, 0.93],
  'c10/optimized-1000': [0.935, 0.925],
  'c10/random-10': [0.9, 0.91], // on par with optimised: the study's "random is worse at D = C = 10" does not hold here
  'c1000/softmax': [0.84, 0.83],
  'c1000/optimized-100': [0.6, 0.58],
  'c1000/optimized-1000': [0.5, 0.46],
};

function record(cell: string, seed: number, macroF1: number): RunRecord {
  const [dataset, model] = cell.split('/') as [string, string];
  const entry = grid.models.find((m) => m.id === model)!;
  const classes = dataset === 'c10' ? 10 : 1000;
  const bestEpoch = (model === 'softmax' ? 40 : 60) + seed;
  return {
    format: RECORD_FORMAT,
    key: `${cell}/s${seed}`,
    dataset,
    model,
    seed,
    classes,
    head: typeof entry.head === 'string' ? entry.head : entry.head.name,
    prototypes: entry.prototypes ? { strategy: entry.prototypes.strategy, dims: entry.prototypes.dims } : null,
    // The spec the grid makes for the run: a record with another is one --resume refuses, and so does the report.
    spec: expandGrid(grid).find((run) => run.key === `${cell}/s${seed}`)!.spec as RunRecord['spec'],
    metrics: {
      accuracy: macroF1,
      macroF1,
      bayes: { accuracy: 0.94 + seed / 100, macroF1: 0.94 + seed / 100 },
      classMean: { accuracy: 0.8 + seed / 100, macroF1: 0.8 + seed / 100 },
    },
    bestEpoch,
    epochs: bestEpoch + 10,
    secondsPerEpoch: 0.5 + (entry.prototypes?.dims ?? classes) / 10000,
    history: Array.from({ length: bestEpoch + 10 }, (_, i) => ({
      epoch: i + 1,
      trainLoss: 1 / (i + 1),
      validationLoss: 1 / (i + 1),
      validationAccuracy: Math.min(macroF1, 0.5 + i / 100),
      seconds: 0.5,
    })),
    engine: { name: 'tfjs', backend: 'tfjs/wasm' },
    versions: {
      node: 'v20.0.0',
      hyperproto: { '@hyperproto/core': '0.1.0', '@hyperproto/experiments': '0.1.0' },
      tfjs: '4.22.0',
      other: { '@tensorflow/tfjs': '4.22.0' },
    },
    seconds: { data: 1, prototypes: 2, training: 30, total: 33 },
    data: { rows: { train: classes * 500 } },
    evaluators: {},
    finishedAt: '2026-01-01T00:00:00.000Z',
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hyperproto-report-'));
  writeFileSync(join(dir, 'grid.json'), JSON.stringify(grid));
  const lines = Object.entries(scores)
    .flatMap(([cell, [a, b]]) => [record(cell, 0, a), record(cell, 1, b)])
    .map((r) => JSON.stringify(r));
  writeFileSync(join(dir, 'results.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'failures.jsonl'),
    `${JSON.stringify({ key: 'c1000/random-10/s0', error: { code: 'E_TRAINING_FAILED', message: 'diverged' } })}\n`,
  );
  writeFileSync(
    join(dir, 'sessions.jsonl'),
    `${JSON.stringify({ startedAt: '2026-01-01T00:00:00Z', wallSeconds: 120, workers: 2, cores: 2, ran: 16, failed: 1, aborted: false, command: 'hyperproto experiment --config mini.json' })}\n`,
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeReport', () => {
  it('puts the numbers of the records into Table 2 and Table 3, beside the published ones, the Bayes ceiling and the class-mean baseline', async () => {
    const report = await writeReport(dir);
    const md = readFileSync(report.markdown, 'utf8');
    // softmax at 10 classes: 90 and 92 -> 91.0 ± 1.4; Bayes 94 and 95 -> 94.5 ± 0.7; class-mean 80 and 81 -> 80.5 ± 0.7
    expect(md).toMatch(/\| classes \| {2}\| Bayes-optimal \| class-mean \| softmax \| 10 \| 100 \| 1000 \| r10 \| r100 \| r1000 \|/);
    expect(md).toMatch(
      /\| 10 \| ours \(n=2\) \| 94\.5 ± 0\.7 \| 80\.5 ± 0\.7 \| 91\.0 ± 1\.4 \| 91\.3 ± 0\.4 \| 93\.0 ± 0\.0 \| 93\.0 ± 0\.7 \| 90\.5 ± 0\.7 \| – \| – \|/,
    );
    expect(md).toMatch(/\| {2}\| study \| – \| – \| 91\.3 \| 91\.2 \| – \| – \| 78\.2 \| – \| – \|/);
    expect(md).toMatch(
      /\| 1000 \| ours \(n=2\) \| 94\.5 ± 0\.7 \| 80\.5 ± 0\.7 \| 83\.5 ± 0\.7 \| – \| 59\.0 ± 1\.4 \| 48\.0 ± 2\.8 \| – \| – \| – \|/,
    );
    // No run of 100 classes yet: dashes, not "n/a".
    expect(md).toMatch(/\| 100 \| ours \(n=0\) \| – \| – \| – \|/);
    // Table 3: best epochs 40/41 for softmax, 60/61 for HPNs, with the study's beside them.
    expect(md).toMatch(/\| softmax \| 40\.5 ± 0\.7 \(study 50\) \| 40\.5 ± 0\.7 \| – \|/);
    expect(md).toMatch(/\| HPN optimized, D = classes \| 60\.5 ± 0\.7 \(study 69\) \| 60\.5 ± 0\.7 \| – \|/);
    expect(md).toMatch(/Seconds per epoch/);
    expect(md).toMatch(/\| 10 \| 5,000 \| 0\.50 ± 0\.00 \|/);
    expect(md).toMatch(/16 of 42 finished/);
    expect(md).toMatch(/c1000\/random-10\/s0\*\*: failed \(E_TRAINING_FAILED\): diverged/);
    expect(md).toMatch(/`hyperproto experiment --config mini\.json` \(2\.0 min, 16 runs\)/);
    expect(md).toMatch(/!\[Macro-F1 against prototype dimension, 10 classes\]\(plots\/f1-vs-dims-c10\.svg\)/);

    expect(report.cells.find((c) => c.dataset === 'c10' && c.model === 'softmax')).toMatchObject({
      seeds: [0, 1],
      published: { macroF1: 91.3, convergenceEpochs: 50 },
    });
    expect(report.runs).toMatchObject({ finished: 16, expected: 42 });
    expect(report.seedComparison).toEqual({ applies: true, missing: [] });
    expect(report.bayes.c10).toMatchObject({ mean: 94.5, n: 2 });
    expect(report.classMean.c10).toMatchObject({ mean: 80.5, n: 2 });
    expect(report.classMean.c100).toBeNull();
  });

  it('states which findings held, computed from the numbers', async () => {
    const { findings } = await writeReport(dir);
    const status = Object.fromEntries(findings.map((f) => [f.id, f.status]));
    expect(status).toMatchObject({
      'par-small': 'held', // 91.25 vs 91.0
      'worse-large': 'held', // best HPN 59.0 vs 83.5
      'random-low-dims': 'did not hold', // 90.5 vs 91.25
      'large-dims-fail': 'held', // 48.0 vs 59.0
      convergence: 'held', // 60.5 >= 40.5
      'random-high-dims': 'not measured',
    });
    const par = findings.find((f) => f.id === 'par-small')!;
    expect(par.evidence.join('\n')).toMatch(/10 classes: HPN optimized D=10 91\.3 ± 0\.4 vs softmax 91\.0 ± 1\.4 \(\+0\.3 points\)/);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toMatch(/\*\*did not hold\*\*: With 10 classes and 10-dimensional prototypes, random prototypes score lower/);
    expect(md).toMatch(
      /Calibration: the data sizes were chosen, on softmax alone and on its validation macro-F1 \(never the test split\), so that it lands within 3 points of the study's; every other model runs with exactly the same settings\. On the test split, over all seeds: met: 10 classes: ours 91\.0 ± 1\.4, study 91\.3 \(-0\.3 points\); 1000 classes: ours 83\.5 ± 0\.7, study 83\.8 \(-0\.3 points\)/,
    );
  });

  it('writes a self-contained HTML page with the plots inline as SVG', async () => {
    const report = await writeReport(dir);
    const html = readFileSync(report.html, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect((html.match(/<svg /g) ?? []).length).toBe(report.plots.length);
    expect(report.plots.map((p) => p.split('/').pop())).toEqual([
      'f1-vs-dims-c10.svg',
      'f1-vs-dims-c1000.svg',
      'seconds-per-epoch.svg',
      // The records span 10 and 1,000 classes.
      'f1-vs-classes.svg',
      'seconds-per-epoch-vs-classes.svg',
      'validation-c10.svg',
      'validation-loss-c10.svg',
      'validation-c1000.svg',
      'validation-loss-c1000.svg',
    ]);
    // Nothing fetched from elsewhere.
    expect(html).not.toMatch(/<(script|link|img)\b/);
    expect(html).not.toMatch(/(src|href)="http/);
    expect(html).toContain('<td>91.0 ± 1.4</td>');
    // Accuracy and loss of a dataset side by side, in one row of plots.
    expect(html).toMatch(
      /<div class="plots"><figure><svg [\s\S]*?<title>10 classes: validation accuracy per epoch<\/title>[\s\S]*?<\/figure><figure><svg [\s\S]*?<title>10 classes: validation loss per epoch<\/title>/,
    );
    for (const plot of report.plots) expect(readFileSync(plot, 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    // The F1 plot has our lines, the study's dashed ones, softmax, the Bayes ceiling and the class-mean baseline.
    const f1 = readFileSync(report.plots[0]!, 'utf8');
    expect(f1).toContain('hpn optimized [10, 100, 1000] (ours)');
    expect(f1).toContain('hpn random [r10, r100, r1000] (study)');
    expect(f1).toContain('stroke-dasharray="5 3"');
    expect(f1).toContain('Bayes-optimal 94.5');
    expect(f1).toContain('class-mean baseline 80.5');
    expect(f1).toContain('softmax (study) 91.3');
  });

  it('hides a queue password that lines of earlier versions stored in sessions.jsonl and failures.jsonl', async () => {
    const queue = 'redis://:hunter2@queue.lab:6379/0';
    const session = { startedAt: '2026-01-02T00:00:00Z', wallSeconds: 60, workers: 2, ran: 4, failed: 1, aborted: false };
    writeFileSync(
      join(dir, 'sessions.jsonl'),
      `${JSON.stringify({ ...session, command: `hyperproto experiment --queue ${queue} --out runs/a` })}\n`,
    );
    const failure = { key: 'c1000/random-10/s0', error: { code: 'E_QUEUE', message: `the queue ${queue} went away` } };
    writeFileSync(join(dir, 'failures.jsonl'), `${JSON.stringify(failure)}\n`);
    const report = await writeReport(dir);
    for (const page of [report.markdown, report.html]) {
      const text = readFileSync(page, 'utf8');
      expect(text).not.toContain('hunter2');
      expect(text).toContain('redis://:***@queue.lab:6379/0');
    }
    // The records' files themselves are left as they are: the report only reads them.
    expect(readFileSync(join(dir, 'sessions.jsonl'), 'utf8')).toContain('hunter2');
  });

  it('reports a torn last line without failing, and refuses a directory without a grid', async () => {
    writeFileSync(join(dir, 'results.jsonl'), `${readFileSync(join(dir, 'results.jsonl'), 'utf8')}{"format":1,"key":"c1000/random-10/s1"`);
    const report = await writeReport(dir);
    expect(readFileSync(report.markdown, 'utf8')).toMatch(
      /line 17 of results\.jsonl is cut short .*run c1000\/random-10\/s1 is not counted/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'hyperproto-empty-'));
    await expect(writeReport(empty)).rejects.toThrow(/is not a results directory/);
    rmSync(empty, { recursive: true });
    expect(existsSync(join(empty, 'report.md'))).toBe(false);
  });
});
