// The report on results directories that were edited by hand or hold hostile text: it neither crashes nor writes
// what the text says as markup, counts only what --resume would count, and never writes over a user's own page.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseGrid } from './grid-schema.js';
import { renderHtml } from './report-html.js';
import { renderMarkdown } from './report-markdown.js';
import { readJsonLines, writeReport, writeSummaryPage } from './report-writer.js';
import { ResultsStore } from './results-store.js';
import { recordProblem } from './run-record.js';

// A committed study of three softmax runs (c10, c100, c1000, seed 0): real records, small enough to copy per test.
const STUDY = fileURLToPath(new URL('../../../docs/results/seed-calibration', import.meta.url));
const RESULTS_PAGE = fileURLToPath(new URL('../../../docs/results/README.md', import.meta.url));

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hyperproto-hostile-'));
  dir = join(root, 'study');
  cpSync(STUDY, dir, { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

type Json = Record<string, any>;
const read = (file: string) => readFileSync(join(dir, file), 'utf8');
const records = (): Json[] =>
  read('results.jsonl')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Json);
const writeLines = (file: string, lines: readonly unknown[]) =>
  writeFileSync(join(dir, file), lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`).join(''));
const editGrid = (edit: (grid: Json) => void) => {
  const grid = JSON.parse(read('grid.json')) as Json;
  edit(grid);
  writeFileSync(join(dir, 'grid.json'), JSON.stringify(grid));
};

describe('the results page without --out', () => {
  it('refuses to write over a README.md that is not a page it wrote, before writing anything, and says to pass --out', async () => {
    writeFileSync(join(root, 'README.md'), '# precious\n');
    await expect(writeSummaryPage([dir])).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringContaining(`${join(root, 'README.md')} exists and is not a results page`),
      hint: expect.stringContaining('--out'),
    });
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toBe('# precious\n');
    expect(existsSync(join(root, 'plots'))).toBe(false);

    // Named by --out it is refused as well, as prototypes and export refuse an existing --out; --force replaces it.
    await expect(writeSummaryPage([dir], { out: join(root, 'README.md') })).rejects.toMatchObject({
      code: 'E_IO',
      hint: expect.stringContaining('--force'),
    });
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toBe('# precious\n');
    const written = await writeSummaryPage([dir], { out: join(root, 'README.md'), force: true });
    expect(readFileSync(written.page, 'utf8')).toMatch(/^# Results/);
  });

  it("refuses the same in a directory that --out names: the page name is this command's choice there too", async () => {
    const pages = join(root, 'pages');
    mkdirSync(pages);
    writeFileSync(join(pages, 'README.md'), '# precious\n');
    await expect(writeSummaryPage([dir], { out: pages })).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringContaining(`${join(pages, 'README.md')} exists and is not a results page`),
    });
    expect(readFileSync(join(pages, 'README.md'), 'utf8')).toBe('# precious\n');
    expect(existsSync(join(pages, 'plots'))).toBe(false);
  });

  it('takes a page an earlier version wrote ("Generated from the committed records by `pnpm hyperproto report`") for its own', async () => {
    const earlier = readFileSync(RESULTS_PAGE, 'utf8').replace(
      /^Generated from the records in .+? by `hyperproto report/m,
      'Generated from the committed records by `pnpm hyperproto report',
    );
    expect(earlier).toMatch(/^Generated from the committed records by `pnpm hyperproto report .+ --summary --out /m);
    writeFileSync(join(root, 'README.md'), earlier);
    const written = await writeSummaryPage([dir]);
    expect(readFileSync(written.page, 'utf8')).toContain('Generated from the records in `study` by `hyperproto report');
  });

  it('writes over a page it wrote, such as the committed docs/results/README.md, and over its own page again', async () => {
    writeFileSync(join(root, 'README.md'), readFileSync(RESULTS_PAGE));
    const written = await writeSummaryPage([dir]);
    expect(written.page).toBe(join(root, 'README.md'));
    const page = readFileSync(written.page, 'utf8');
    expect(page).toContain('Generated from the records in `study` by `hyperproto report');
    await writeSummaryPage([dir]);
    expect(readFileSync(written.page, 'utf8')).toBe(page);
  });
});

describe('failures.jsonl and sessions.jsonl edited by hand', () => {
  it('skips each line that is not what the runner writes and names it, and lists no failure of a run the grid lacks', async () => {
    const session = JSON.parse(read('sessions.jsonl')) as Json;
    writeLines('failures.jsonl', [
      { key: 123 },
      '42',
      { key: 'c10/softmax/s0"onmouseover="alert(1)', error: { code: 'E_X', message: 'not a run of the grid' } },
      { key: 'c10/softmax/s0', error: { code: 'E_TRAINING_FAILED' } },
      '{"key": "cut',
    ]);
    writeLines('sessions.jsonl', ['null', { ...session, command: { a: 1 } }, session]);
    const report = await writeReport(dir);
    const markdown = readFileSync(report.markdown, 'utf8');
    expect(markdown).toContain(
      '- **Skipped**: 6 lines left out, not being what the runner writes: failures.jsonl line 1 ("key" is not a string); failures.jsonl line 2 (not a JSON object); failures.jsonl line 4 ("error.message" is not a string); failures.jsonl line 5 (not valid JSON',
    );
    expect(markdown).toContain('sessions.jsonl line 1 (not a JSON object); and 1 more; failures.jsonl names 1 run the grid does not have');
    // The session line that fits is read; the failure of a run outside the grid is not listed as a failed run.
    expect(markdown).toContain('7.5 min wall time in 1 session');
    expect(markdown).not.toContain('## Missing runs');
    expect(report.runs).toMatchObject({ finished: 3, expected: 3 });

    const html = readFileSync(report.html, 'utf8');
    expect(html).not.toMatch(/onmouseover="/);
    expect(html).toContain('c10/softmax/s0&quot;onmouseover=&quot;alert(1)');
  });

  it('says when one cannot be read, instead of taking it as empty', async () => {
    rmSync(join(dir, 'failures.jsonl'), { force: true });
    mkdirSync(join(dir, 'failures.jsonl'));
    const markdown = readFileSync((await writeReport(dir)).markdown, 'utf8');
    expect(markdown).toContain('- **Skipped**: failures.jsonl could not be read (it is a directory), so nothing of it is shown.');
  });

  it('skips a line too long to decode by its length, naming it, and reads the lines after it', async () => {
    const path = join(dir, 'sessions.jsonl');
    writeFileSync(path, `{"n":1}\n${JSON.stringify({ pad: 'x'.repeat(40) })}\n{"n":2}\n`);
    const read = await readJsonLines(path, (line) => line, 20);
    expect(read.values).toEqual([{ n: 1 }, { n: 2 }]);
    expect(read.skipped).toEqual([{ file: 'sessions.jsonl', line: 2, reason: '50 bytes long, more than is read as one line (20 bytes)' }]);
  });

  it('never writes a bold lead-in into an HTML attribute; only a verdict has a class', () => {
    const html = renderHtml({
      title: 't',
      plots: [],
      findings: [],
      blocks: [
        {
          kind: 'list',
          items: [
            { strong: 'x"onmouseover="alert(1)', text: 'a' },
            { strong: 'did not hold', text: 'b' },
          ],
        },
      ],
    });
    expect(html).toContain('<li><strong>x&quot;onmouseover=&quot;alert(1)</strong>: a</li>');
    expect(html).toContain('<li><strong class="did-not-hold">did not hold</strong>: b</li>');
  });
});

describe('records with broken nested fields', () => {
  const broken: [string, (record: Json) => void, string][] = [
    ['a history of other things than epochs', (r) => (r.history = [1, '<x>', null]), '"history.0" is not an object'],
    ['an epoch without its loss', (r) => delete r.history[2].trainLoss, '"history.2.trainLoss" is not a number'],
    ['versions that are not strings', (r) => (r.versions = { x: { '<b>': 1 } }), '"versions.node" is not a string'],
    ['no scores', (r) => (r.metrics = {}), '"metrics.accuracy" is not a number or null'],
    ['no seconds', (r) => (r.seconds = {}), '"seconds.data" is not a number'],
    ['a commit that is not a string', (r) => (r.git = { commit: 7, dirty: false }), '"git.commit" is not a string'],
  ];

  it.each(broken)('are refused by the record check, so by the report and by --resume: %s', async (_, breakIt, problem) => {
    const list = records();
    breakIt(list[0]!);
    expect(recordProblem(list[0])).toBe(problem);
    writeLines('results.jsonl', list);
    const refusal = { code: 'E_INVALID_INPUT', message: expect.stringContaining(`line 1 is not a run record: ${problem}`) };
    await expect(writeReport(dir)).rejects.toMatchObject(refusal);
    const grid = parseGrid(JSON.parse(read('grid.json')));
    await expect(ResultsStore.open(dir, { grid, resume: true })).rejects.toMatchObject(refusal);
  });
});

describe('records that --resume refuses', () => {
  it('are left out of every number, counted and named in the report: a run the grid does not have, one of another spec', async () => {
    const list = records();
    const other = { ...list[2]!, model: 'softmax-wide', key: 'c10/softmax-wide/s0' };
    // The record of c10 says it ran with another width than the grid makes.
    list[2]!.spec.trainer.hiddenUnits = 301;
    writeLines('results.jsonl', [...list, other]);
    const report = await writeReport(dir);
    expect(report.runs).toMatchObject({ finished: 2, expected: 3, missing: ['c10/softmax/s0'] });
    expect(report.runs.excluded.map((e) => e.key)).toEqual(['c10/softmax/s0', 'c10/softmax-wide/s0']);
    const markdown = readFileSync(report.markdown, 'utf8');
    expect(markdown).toContain('- **Runs**: 2 of 3 finished');
    expect(markdown).toContain(
      '- **Not counted**: 2 records of results.jsonl are left out of every number here, as --resume refuses them: c10/softmax/s0 (another spec than the grid makes: trainer.hiddenUnits: 301 there, 300 now) and 1 more.',
    );
    // c10 has no counted record: its cells are dashes.
    expect(markdown).toMatch(/\| 10 \| n=0 \| – \| – \| – \|/);
  });
});

describe('text from grids and records in report.md', () => {
  it('is escaped: no HTML, link, heading or list is made of it, and it still reads as written', async () => {
    editGrid((grid) => {
      grid.description = 'Data <script>alert(1)</script>\n# heading from the description';
      grid.notes = ['[click](javascript:alert(1)) and *bold*', '- not a list'];
      grid.models[0].label = '<img src=x onerror=alert(1)>\n# heading from a label';
    });
    // c10 is missing, and its failure message is hostile too.
    writeLines('results.jsonl', records().slice(0, 2));
    writeLines('failures.jsonl', [
      { key: 'c10/softmax/s0', error: { code: 'E_TRAINING_FAILED', message: '<b>boom</b> `x` [y](http://z)' } },
    ]);
    const markdown = readFileSync((await writeReport(dir)).markdown, 'utf8');
    expect(markdown).not.toMatch(/<(script|img|b)\b/);
    expect(markdown).not.toMatch(/[^\\]\]\((javascript|http)/);
    expect(markdown).not.toMatch(/^#+ heading/m);
    expect(markdown).not.toMatch(/^- not a list/m);
    expect(markdown).toContain('Data &lt;script>alert(1)&lt;/script> \\# heading from the description');
    expect(markdown).toContain('- [click\\](javascript:alert(1)) and \\*bold\\*');
    expect(markdown).toContain('- \\- not a list');
    expect(markdown).toContain('| classes |  | Bayes-optimal | class-mean | &lt;img src=x onerror=alert(1)> \\# heading from a label |');
    expect(markdown).toContain('**c10/softmax/s0**: failed (E_TRAINING_FAILED): &lt;b>boom&lt;/b> `x` [y\\](http://z)');
  });

  it('keeps the markup the report itself writes: code spans, and on the results page links to its own files only', () => {
    const document = {
      title: 't',
      plots: [],
      findings: [],
      blocks: [
        { kind: 'paragraph', text: '1. `a <b> | c` and [`x/report.md`](x/report.md), [y](javascript:alert(1)), [z](//host/p)' },
        { kind: 'table', header: ['a|b'], rows: [['`c|d` e_f _g_']] },
      ],
    } as const;
    expect(renderMarkdown(document, { links: true })).toBe(
      '1\\. `a <b> | c` and [`x/report.md`](x/report.md), [y\\](javascript:alert(1)), [z\\](//host/p)\n\n| a\\|b |\n|---|\n| `c\\|d` e_f \\_g\\_ |\n',
    );
    expect(renderMarkdown(document)).toContain('and [`x/report.md`\\](x/report.md)');
  });

  it('makes no image of a kept link, no task list item of a leading [ ] or [x], and leaves bare URLs as GFM links them', () => {
    const document = {
      title: 't',
      plots: [],
      findings: [],
      blocks: [
        { kind: 'paragraph', text: 'see ![plot](plots/a.svg)' },
        { kind: 'list', items: [{ text: '[ ] not a task' }, { strong: 'k', text: 'v', sub: ['[x] not done'] }] },
        { kind: 'paragraph', text: 'at https://x.org/p*q#a~b_c, www.x.org/a_b_ (https://x.org/a_(b)) *e* http://localhost/a*b' },
      ],
    } as const;
    expect(renderMarkdown(document, { links: true })).toBe(
      [
        'see \\![plot](plots/a.svg)',
        '',
        '- \\[ ] not a task',
        '- **k**: v',
        '  - \\[x] not done',
        '',
        // Without a dot in its domain GFM links no URL: its text is escaped as any other.
        'at https://x.org/p*q#a~b_c, www.x.org/a_b_ (https://x.org/a_(b)) \\*e\\* http://localhost/a\\*b',
        '',
      ].join('\n'),
    );
  });
});
