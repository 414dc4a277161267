// Where `report` writes: an existing file that is not a page or report it wrote is refused unless --force (as
// prototypes and export refuse an existing --out), a report of one results directory is not a results page, and a
// missing parent directory of --out is refused (exit 3), never made.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeReport, writeSummaryPage } from './report-writer.js';

// A committed study of three softmax runs: real records, small enough to copy per test.
const STUDY = fileURLToPath(new URL('../../../docs/results/seed-calibration', import.meta.url));

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hyperproto-report-out-'));
  dir = join(root, 'study');
  cpSync(STUDY, dir, { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('report --summary --out FILE', () => {
  it("refuses an existing file of the user's (E_IO), writes nothing, and replaces it with --force", async () => {
    const csv = join(root, 'scores.csv');
    writeFileSync(csv, 'a,b\n1,2\n');
    await expect(writeSummaryPage([dir], { out: csv })).rejects.toMatchObject({
      code: 'E_IO',
      message: `${csv} exists and is not a results page that \`hyperproto report --summary\` wrote: it is left as it is, and nothing was written`,
      hint: expect.stringContaining('pass --force to replace it'),
    });
    expect(readFileSync(csv, 'utf8')).toBe('a,b\n1,2\n');
    expect(existsSync(join(root, 'plots'))).toBe(false);

    const written = await writeSummaryPage([dir], { out: csv, force: true });
    expect(written.page).toBe(csv);
    expect(readFileSync(csv, 'utf8')).toMatch(/^# Results/);
  });

  it('writes over a page it wrote at the same --out, without --force', async () => {
    const page = join(root, 'results.md');
    const first = await writeSummaryPage([dir], { out: page });
    const text = readFileSync(first.page, 'utf8');
    await writeSummaryPage([dir], { out: page });
    expect(readFileSync(page, 'utf8')).toBe(text);
  });

  it("refuses a results directory's own report.md: it is not the results page, and its plots/ is the report's", async () => {
    await writeReport(dir);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    const plots = readdirSync(join(dir, 'plots')).sort();
    await expect(writeSummaryPage([dir], { out: join(dir, 'report.md') })).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringContaining('is the report of one results directory (`hyperproto report DIR`), not a results page'),
      hint: expect.stringContaining('--force'),
    });
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toBe(report);
    expect(readdirSync(join(dir, 'plots')).sort()).toEqual(plots);
  });

  it('refuses a missing parent directory (E_IO) and makes none', async () => {
    const page = join(root, 'nowhere', 'deeper', 'page.md');
    await expect(writeSummaryPage([dir], { out: page })).rejects.toMatchObject({
      code: 'E_IO',
      message: `cannot write the results page ${page}: the directory ${join(root, 'nowhere', 'deeper')} does not exist`,
      hint: expect.stringContaining('--out'),
    });
    expect(existsSync(join(root, 'nowhere'))).toBe(false);
  });
});

describe('report DIR --out DIR2', () => {
  it('makes DIR2 in an existing directory, and refuses (E_IO) a DIR2 whose parent does not exist, making nothing', async () => {
    const written = await writeReport(dir, { outDir: join(root, 'out') });
    expect(existsSync(written.markdown)).toBe(true);

    const target = join(root, 'nowhere', 'x');
    await expect(writeReport(dir, { outDir: target })).rejects.toMatchObject({
      code: 'E_IO',
      message: `cannot write the report into ${target}: the directory ${join(root, 'nowhere')} does not exist`,
      hint: 'Create that directory first, or choose another --out.',
    });
    expect(existsSync(join(root, 'nowhere'))).toBe(false);

    writeFileSync(join(root, 'file'), 'x');
    await expect(writeReport(dir, { outDir: join(root, 'file', 'x') })).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringContaining(`${join(root, 'file')} is not a directory`),
    });
  });

  it('refuses a DIR2 that is a file (E_IO), with or without --force, and leaves the file as it is', async () => {
    const file = join(root, 'outfile.txt');
    writeFileSync(file, 'notes\n');
    for (const force of [false, true]) {
      await expect(writeReport(dir, { outDir: file, force })).rejects.toMatchObject({
        code: 'E_IO',
        message: `cannot write the report into ${file}: it is a file, not a directory`,
        hint: expect.stringContaining('Choose a directory as --out'),
      });
    }
    expect(readFileSync(file, 'utf8')).toBe('notes\n');
  });

  it.each([
    ['report.md', '# Notes\n\nMy own notes.\n'],
    ['report.html', '<!doctype html>\n<title>My page</title>\n'],
  ])("refuses a user's %s in DIR2 (E_IO), writes nothing, and replaces it with --force", async (file, own) => {
    const out = join(root, 'out');
    mkdirSync(out);
    writeFileSync(join(out, file), own);
    await expect(writeReport(dir, { outDir: out })).rejects.toMatchObject({
      code: 'E_IO',
      message: `${join(out, file)} exists and is not a report that \`hyperproto report DIR\` wrote: it is left as it is, and nothing was written`,
      hint: 'Choose another --out, or pass --force to replace it (the report writes report.md, report.html and plots/*.svg there).',
    });
    expect(readdirSync(out)).toEqual([file]);
    expect(readFileSync(join(out, file), 'utf8')).toBe(own);

    await writeReport(dir, { outDir: out, force: true });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/^# Experiment report: seed-calibration\n/);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<title>Experiment report: seed-calibration</title>');
  });

  it('replaces a report it wrote in DIR2 without --force, and refuses a results page there', async () => {
    const out = join(root, 'out');
    const first = await writeReport(dir, { outDir: out });
    writeFileSync(first.markdown, `${readFileSync(first.markdown, 'utf8')}\nstale line\n`);
    await writeReport(dir, { outDir: out });
    expect(readFileSync(first.markdown, 'utf8')).not.toContain('stale line');

    await writeSummaryPage([dir], { out: first.markdown, force: true });
    await expect(writeReport(dir, { outDir: out })).rejects.toMatchObject({
      message: expect.stringContaining('is a results page (`hyperproto report --summary`), not the report of one results directory'),
    });
  });

  it("writes over the results directory's own report.md whatever it holds (as `experiment` does)", async () => {
    writeFileSync(join(dir, 'report.md'), '# Edited by hand\n');
    await writeReport(dir, { outDir: dir });
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/^# Experiment report: /);
  });
});
