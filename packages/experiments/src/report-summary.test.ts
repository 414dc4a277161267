import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandGrid } from './grid-expansion.js';
import { parseGrid } from './grid-schema.js';
import { buildReportData } from './report-data.js';
import { renderMarkdown } from './report-markdown.js';
import { buildSummaryDocument, headFamily, summaryClassCountPlot, summaryRows, type SummaryStudy } from './report-summary.js';
import { writeSummaryPage } from './report-writer.js';
import type { RunRecord } from './run-record.js';
import { gridRecord } from './test-support/fake-record.js';

// Study "small": 10 and 100 classes; softmax and HPNs over D = 4 and D = 8.
const smallGrid = {
  name: 'small',
  seeds: 2,
  datasets: [
    { id: 'c10', name: 'blobs', options: { classes: 10, trainPerClass: 50 } },
    { id: 'c100', name: 'blobs', options: { classes: 100, trainPerClass: 50 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'hpn-d4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 } },
    { id: 'hpn-d8', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 } },
  ],
};
// Study "large": a narrow softmax at 10 classes, softmax and an HPN at 100, and 1,000 classes not run yet, where
// sampled softmax is planned too.
const largeGrid = {
  name: 'large',
  seeds: 2,
  datasets: [
    { id: 'c10', name: 'blobs', options: { classes: 10 } },
    { id: 'c100', name: 'blobs', options: { classes: 100 } },
    { id: 'c1000', name: 'blobs', options: { classes: 1000 } },
  ],
  models: [
    { id: 'softmax-narrow', head: 'softmax', trainer: { hiddenUnits: 64 }, datasets: ['c10'] },
    { id: 'softmax', head: 'softmax', datasets: ['c100', 'c1000'] },
    { id: 'sampled', head: { name: 'bottleneck-softmax', options: { dims: 8, sampledShare: 0.01 } }, datasets: ['c1000'] },
    { id: 'hpn-d8', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 }, datasets: ['c100', 'c1000'] },
  ],
};

interface Cell {
  readonly f1: readonly [number, number];
  /** Validation macro-F1 of both seeds; absent: records without validation scores. */
  readonly validation?: number;
  readonly secondsPerEpoch: number;
  readonly total: number;
}

function records(grid: typeof smallGrid | typeof largeGrid, cells: Record<string, Cell>, changes: Partial<RunRecord> = {}): RunRecord[] {
  return Object.entries(cells).flatMap(([key, cell]) => {
    const [dataset, modelId] = key.split('/') as [string, string];
    const model = (grid.models as readonly { id: string; head: unknown; prototypes?: { strategy: string; dims: number } }[]).find(
      (m) => m.id === modelId,
    )!;
    const head = typeof model.head === 'string' ? model.head : (model.head as { name: string }).name;
    const classes = grid.datasets.find((d) => d.id === dataset)!.options.classes;
    // The spec the grid makes for the run: a record with another is one --resume refuses, and so does the report.
    const specs = new Map(expandGrid(parseGrid(grid)).map((run) => [run.key, run.spec as RunRecord['spec']]));
    return cell.f1.map((f1, seed) =>
      gridRecord(dataset, { id: modelId, head, ...(model.prototypes ?? {}) }, seed, f1, {
        classes,
        spec: specs.get(`${key}/s${seed}`)!,
        secondsPerEpoch: cell.secondsPerEpoch,
        seconds: { data: 0, prototypes: 0, training: cell.total, total: cell.total },
        ...(cell.validation !== undefined ? { validation: { accuracy: cell.validation, macroF1: cell.validation } } : {}),
        ...changes,
      }),
    );
  });
}

const smallRecords = records(
  smallGrid,
  {
    'c10/softmax': { f1: [0.9, 0.9], validation: 0.9, secondsPerEpoch: 0.1, total: 2 },
    // The best test score, but not the best validation score: hpn-d8 stands for HPN.
    'c10/hpn-d4': { f1: [0.91, 0.91], validation: 0.8, secondsPerEpoch: 0.2, total: 3 },
    'c10/hpn-d8': { f1: [0.89, 0.89], validation: 0.95, secondsPerEpoch: 0.3, total: 4 },
    'c100/softmax': { f1: [0.8, 0.8], validation: 0.8, secondsPerEpoch: 1, total: 40 },
    'c100/hpn-d4': { f1: [0.6, 0.6], validation: 0.6, secondsPerEpoch: 0.5, total: 20 },
    'c100/hpn-d8': { f1: [0.65, 0.65], validation: 0.66, secondsPerEpoch: 0.6, total: 30 },
  },
  { git: { commit: 'abcdef0123456789abcdef0123456789abcdef01', dirty: false } },
);
const largeRecords = records(largeGrid, {
  'c10/softmax-narrow': { f1: [0.7, 0.7], secondsPerEpoch: 0.05, total: 1 },
  'c100/softmax': { f1: [0.7, 0.72], secondsPerEpoch: 2, total: 100 },
  'c100/hpn-d8': { f1: [0.75, 0.75], secondsPerEpoch: 1, total: 60 },
});

const study = (grid: typeof smallGrid | typeof largeGrid, list: RunRecord[]): SummaryStudy => ({
  name: grid.name,
  path: grid.name,
  data: buildReportData(parseGrid(grid), list),
  gridSource: `\`${grid.name}/grid.json\``,
  readme: false,
});
const studies = [study(largeGrid, largeRecords), study(smallGrid, smallRecords)];

describe('the results page', () => {
  const rows = summaryRows(studies);
  const find = (name: string, dataset: string) => rows.find((r) => r.study.name === name && r.dataset.id === dataset)!;

  it('groups heads into families, a sampled share apart', () => {
    const families = parseGrid(largeGrid).models.map(
      (m) =>
        headFamily({
          id: m.id,
          label: m.id,
          head: typeof m.head === 'string' ? m.head : m.head.name,
          headOptions: typeof m.head === 'string' ? {} : m.head.options,
          strategy: undefined,
          prototypeOptions: undefined,
          dims: undefined,
        }).key,
    );
    expect(families).toEqual(['softmax', 'softmax', 'sampled-softmax', 'hpn']);
  });

  it('orders the rows by class count, then by study', () => {
    expect(rows.map((r) => `${r.study.name}/${r.dataset.id}`)).toEqual([
      'large/c10',
      'small/c10',
      'large/c100',
      'small/c100',
      'large/c1000',
    ]);
  });

  it("stands a family by its configuration with the best validation macro-F1, and judges the best with the seeds' spread", () => {
    const c10 = find('small', 'c10');
    const hpn = c10.families.find((f) => f.family.key === 'hpn')!;
    expect(hpn.chosen).toMatchObject({ model: { id: 'hpn-d8' }, by: 'validation', candidates: 2 });
    expect(hpn.chosen!.cell.macroF1!.mean).toBeCloseTo(89, 10);
    // Softmax 90.0 against HPN 89.0: within 2 points, on par.
    expect(c10.best!.family.key).toBe('softmax');
    expect(c10.onPar.map((e) => e.family.key)).toEqual(['hpn']);

    const c100 = find('small', 'c100');
    expect(c100.best!.family.key).toBe('softmax');
    expect(c100.onPar).toEqual([]);
    expect(c100.fastestEpoch!.family.key).toBe('hpn');
    expect(c100.cheapestRun!.family.key).toBe('hpn');
    expect(c100.fastestEpoch!.chosen!.cell.secondsPerEpoch!.mean).toBeCloseTo(0.6, 10);

    // Without validation scores the test score chooses; HPN 75.0 against softmax 71.0 ± 1.4: a clear lead.
    const large = find('large', 'c100');
    expect(large.best!.chosen).toMatchObject({ model: { id: 'hpn-d8' }, by: 'test' });
    expect(large.onPar).toEqual([]);
  });

  it('says which cells are not run yet and which are not in the grid, never a number', () => {
    const c1000 = find('large', 'c1000');
    expect(c1000.best).toBeUndefined();
    expect(c1000.families.map((f) => [f.family.key, f.plannedRuns, f.finishedRuns, f.chosen])).toEqual([
      ['softmax', 2, 0, undefined],
      ['sampled-softmax', 2, 0, undefined],
      ['hpn', 2, 0, undefined],
    ]);
    expect(find('large', 'c100').families.find((f) => f.family.key === 'sampled-softmax')!.plannedRuns).toBe(0);

    const markdown = renderMarkdown(buildSummaryDocument(studies, 'hyperproto report large small --summary'));
    expect(markdown).toContain('| 1,000 | large, c1000 | not run yet (6 runs planned) | – | – | – |');
    expect(markdown).toContain('| sampled softmax | not in the grid | – | – | – | – | – |');
    expect(markdown).toContain('| sampled softmax | not run yet (2 runs planned) | – | – | – | – | – |');
    expect(markdown).toContain(
      '| 10 | small, c10 (50 training rows per class) | softmax 90.0 ± 0.0 (2 seeds) | HPN 89.0 ± 0.0 (2 seeds) | softmax 0.10 s | softmax 2.00 s |',
    );
    expect(markdown).toContain(
      '| 100 | small, c100 (50 training rows per class) | softmax 80.0 ± 0.0 (2 seeds) | none | HPN 0.60 s (softmax 1.00 s) | HPN 30.0 s (softmax 40.0 s) |',
    );
    expect(markdown).toContain('| 10 | large, c10 (every model with hiddenUnits=64) |');
    expect(markdown).toContain(
      '| HPN | hpn axes D=8 (`hpn-d8`; best of 2 by validation macro-F1) | 89.0 ± 0.0 | 2 | 0.30 s | 1 | 4.00 s |',
    );
    // What happened, for any user's records: no claim that they are committed, nor how the command was launched.
    expect(markdown).toContain('Generated from the records in `large`, `small` by `hyperproto report large small --summary`');
    expect(markdown).not.toMatch(/committed|pnpm/);
  });

  it('notes a best below the nearest class mean, and names no fastest where the printed seconds are equal', () => {
    const ownData = { ...smallGrid, name: 'own-data', datasets: [smallGrid.datasets[0]!] };
    const list = records(ownData, {
      // 0.011 and 0.014 s both print as 0.01 s; the runs' seconds differ visibly.
      'c10/softmax': { f1: [0.6, 0.62], validation: 0.6, secondsPerEpoch: 0.011, total: 0.7 },
      'c10/hpn-d4': { f1: [0.5, 0.5], validation: 0.5, secondsPerEpoch: 0.014, total: 0.9 },
    }).map((r) => ({ ...r, metrics: { ...r.metrics, classMean: { accuracy: 0.76, macroF1: 0.75 + r.seed / 100 } } }));
    const own = study(ownData, list);
    const [row] = summaryRows([own]);
    expect(row!.belowClassMean!.model.id).toBe('softmax');
    expect(row!.fastestEpoch!.family.key).toBe('softmax');
    expect(row!.fastestEpochTies.map((e) => e.family.key)).toEqual(['hpn']);
    expect(row!.cheapestRunTies).toEqual([]);
    const markdown = renderMarkdown(buildSummaryDocument([own], 'hyperproto report own-data --summary'));
    expect(markdown).toContain(
      '| 10 | own-data, c10 (50 training rows per class) | softmax 61.0 ± 1.4 (2 seeds); every network below the nearest class mean 75.5 ± 0.7 | none | no clear winner: softmax, HPN 0.01 s (equal at this precision) | softmax 0.70 s |',
    );
  });

  it('says when no head is clearly above a uniform guess, by the rule for on par', () => {
    const chanceGrid = {
      ...smallGrid,
      name: 'chance',
      datasets: [
        { id: 'c1000', name: 'blobs', options: { classes: 1000, trainPerClass: 10 } },
        { id: 'c100000', name: 'blobs', options: { classes: 100000, trainPerClass: 10 } },
      ],
    };
    const chanceStudy = study(
      chanceGrid,
      records(chanceGrid, {
        // 3.0 points against a uniform guess's 0.1: clearly above it.
        'c1000/softmax': { f1: [0.03, 0.03], secondsPerEpoch: 1, total: 10 },
        'c1000/hpn-d8': { f1: [0.001, 0.001], secondsPerEpoch: 1, total: 10 },
        // 1.6 points against 0.001: within 2 points, no answer.
        'c100000/softmax': { f1: [0.015, 0.017], secondsPerEpoch: 1, total: 10 },
        'c100000/hpn-d8': { f1: [0.00002, 0.00002], secondsPerEpoch: 1, total: 10 },
      }),
    );
    const markdown = renderMarkdown(buildSummaryDocument([chanceStudy], 'hyperproto report chance --summary'));
    expect(markdown).toContain('| 1,000 | chance, c1000 (10 training rows per class) | softmax 3.0 ± 0.0 (2 seeds) | none |');
    expect(markdown).toContain(
      '| 100,000 | chance, c100000 (10 training rows per class) | no head clearly above chance (a uniform guess: 0.001); highest: softmax 1.6 ± 0.1 (2 seeds) | HPN 0.0 ± 0.0 (2 seeds) |',
    );
    expect(markdown).toContain('On the same test splits: a uniform guess about 0.1.');
  });

  it('states where each number comes from: the results file, commits and versions', () => {
    const markdown = renderMarkdown(buildSummaryDocument(studies, 'cmd'), { links: true });
    expect(markdown).toContain('- **small**: [`small/results.jsonl`](small/results.jsonl); report: [`small/report.md`](small/report.md)');
    expect(markdown).toContain('  - commits: abcdef0 (12 runs)');
    expect(markdown).toContain('  - commits: not recorded by 6 records (written before records kept it)');
    expect(markdown).toContain('  - grid: `large/grid.json`; 6 of 12 planned runs recorded');
  });

  it('plots macro-F1 and seconds per epoch against the class count, one line per study, family and network', () => {
    const f1 = summaryClassCountPlot(rows, 'macroF1')!;
    expect(f1.file).toBe('f1-vs-classes.svg');
    expect(f1.chart.xLog).toBe(true);
    expect(f1.chart.xTicks).toEqual([10, 100]);
    const lines = Object.fromEntries(f1.chart.series.map((s) => [s.label, s.points.map((p) => [p.x, Number(p.y.toFixed(6))])]));
    expect(lines).toEqual({
      // The narrow softmax is a line of its own: a line never joins two networks.
      'softmax, large [hiddenUnits=64]': [[10, 70]],
      'softmax, large': [[100, 71]],
      'HPN, large': [[100, 75]],
      'softmax, small': [
        [10, 90],
        [100, 80],
      ],
      'HPN, small': [
        [10, 89],
        [100, 65],
      ],
    });
    const dash = (label: string) => f1.chart.series.find((s) => s.label === label)!.dash;
    expect(dash('HPN, large')).not.toBe(dash('HPN, small'));
    const seconds = summaryClassCountPlot(rows, 'secondsPerEpoch')!;
    expect(seconds.chart.series.find((s) => s.label === 'HPN, small')!.points.map((p) => p.y)).toEqual([0.3, 0.6]);
    expect(seconds.chart.yLog).toBe(true);
  });
});

describe('writeSummaryPage', () => {
  let root: string;
  const write = (dir: string, grid: object, list: RunRecord[], sessions: object[] = []) => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, 'grid.json'), JSON.stringify(grid));
    writeFileSync(join(root, dir, 'results.jsonl'), list.map((r) => `${JSON.stringify(r)}\n`).join(''));
    if (sessions.length) writeFileSync(join(root, dir, 'sessions.jsonl'), sessions.map((s) => `${JSON.stringify(s)}\n`).join(''));
  };

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'hyperproto-summary-'));
    write('small', smallGrid, smallRecords, [
      { startedAt: '2026-01-01T00:00:00.000Z', wallSeconds: 120, workers: 2, ran: 12, failed: 0, aborted: false },
    ]);
    write('large', largeGrid, largeRecords);
    // A study that has not started: only its README, named like the shipped preset.
    mkdirSync(join(root, 'many-classes'));
    writeFileSync(join(root, 'many-classes', 'README.md'), '# not run yet\n');
    mkdirSync(join(root, 'empty'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes the page and its plots from the results directories, stating the command that rewrites it', async () => {
    const dirs = ['small', 'large', 'many-classes'].map((d) => join(root, d));
    const written = await writeSummaryPage(dirs, { out: root });
    expect(written.page).toBe(join(root, 'README.md'));
    expect(written.plots).toEqual([join(root, 'plots', 'f1-vs-classes.svg'), join(root, 'plots', 'seconds-per-epoch-vs-classes.svg')]);
    for (const path of [written.page, ...written.plots]) expect(existsSync(path)).toBe(true);
    const shown = (path: string) => relative(process.cwd(), path);
    expect(written.command).toBe(`hyperproto report ${dirs.map(shown).join(' ')} --summary --out ${shown(join(root, 'README.md'))}`);
    expect(written.studies.map((s) => [s.name, s.finished])).toEqual([
      ['small', 12],
      ['large', 6],
      ['many-classes', 0],
    ]);
    const many = written.studies[2]!;
    expect(many.gridSource).toBe('the preset many-classes (no grid.json in the directory yet)');
    expect(many.expected).toBeGreaterThan(0);
    expect(written.rows.filter((r) => r.study === 'many-classes').every((r) => r.best === null)).toBe(true);
    expect(written.rows.find((r) => r.study === 'small' && r.dataset === 'c10')).toMatchObject({
      fastestPerEpoch: 'softmax',
      fastestPerEpochTiedWith: [],
      cheapestRunTiedWith: [],
      belowClassMean: false,
    });
    const page = readFileSync(written.page, 'utf8');
    expect(page).toContain(`Generated from the records in \`small\`, \`large\`, \`many-classes\` by \`${written.command}\``);
    expect(page).toContain('![Test macro-F1 against class count](plots/f1-vs-classes.svg)');
    expect(page).toContain('notes and commands: [`many-classes/README.md`](many-classes/README.md)');
    expect(page).toContain('2.0 min of wall time in 1 recorded session (workers: 2)');
    // The same records give the same page.
    await writeSummaryPage(dirs, { out: join(root, 'README.md') });
    expect(readFileSync(written.page, 'utf8')).toBe(page);
  });

  it('refuses directories it cannot read as studies, with what to do', async () => {
    await expect(writeSummaryPage([join(root, 'nowhere')])).rejects.toMatchObject({ code: 'E_IO', hint: expect.stringContaining('--out') });
    await expect(writeSummaryPage([join(root, 'small'), join(root, 'nested', 'small')])).rejects.toMatchObject({
      code: 'E_INVALID_OPTIONS',
    });
    await expect(writeSummaryPage([join(root, 'empty')])).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringContaining('grid.json'),
    });
    await expect(writeSummaryPage([])).rejects.toMatchObject({ code: 'E_INVALID_OPTIONS' });
  });
});
