// `experiment --grid` on the user's own files: a prototype size that cannot exist at the class count the files hold
// is refused before any run, and a misspelt field of the grid file is named with the field meant.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-own-data-grid-'));
const cli = (args: string[]) => runCli(args, scratch);
const write = (name: string, value: unknown) => writeFileSync(join(scratch, name), JSON.stringify(value));

const CLASSES = 40;
/** 10 rows of each of 40 classes named `species-<c>`, 3 features, with a header naming the label column. */
function fortyClassesCsv(): string {
  const lines = ['a,b,c,species'];
  for (let r = 0; r < 10; r++) for (let c = 0; c < CLASSES; c++) lines.push(`${c},${r},${(c * 7 + r) % 11},species-${c}`);
  return `${lines.join('\n')}\n`;
}

const grid = {
  name: 'own-data',
  seeds: 1,
  datasets: [{ id: 'mine', name: 'files', options: { data: 'forty.csv', labelColumn: 'species' } }],
  models: [
    { id: 'softmax', head: 'softmax' },
    // Orthogonal prototypes need dims >= classes: 8 dims cannot hold 40 classes.
    { id: 'orth-8', head: 'hpn', prototypes: { strategy: 'orthogonal', dims: 8 } },
  ],
  trainer: { hiddenUnits: 16, maxEpochs: 2 },
};

beforeAll(() => {
  writeFileSync(join(scratch, 'forty.csv'), fortyClassesCsv());
  write('grid.json', grid);
  const { datasets, ...rest } = grid;
  write('typo.json', { ...rest, datset: datasets });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('experiment --grid on own files', () => {
  it('refuses a prototype size the class count of the files rules out, naming the cell and the count, before any run', async () => {
    const run = await cli(['experiment', '--grid', 'grid.json', '--out', 'runs/results', '--workers', '1', '--save-models', 'none']);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(
      'grid.json models.1 "orth-8" on datasets.0 "mine" (40 classes in its data): prototype strategy "orthogonal" cannot make 40 prototypes in 8 dimensions',
    );
    expect(run.stderr).toMatch(
      /Strategies that can: .*Give the model more "dims", another strategy, or a "datasets" list without that dataset; nothing has been run\./,
    );
    expect(run.stderr).not.toMatch(/runs to do/);
    // Neither --out nor the parent this run would have made is left behind.
    expect(existsSync(join(scratch, 'runs'))).toBe(false);
  });

  it('leaves an --out directory that existed before as it was when the grid is refused', async () => {
    mkdirSync(join(scratch, 'kept'));
    const run = await cli(['experiment', '--grid', 'grid.json', '--out', 'kept', '--workers', '1', '--save-models', 'none']);
    expect(run.code, run.stderr).toBe(2);
    expect(readdirSync(join(scratch, 'kept'))).toEqual([]);
  });

  it('names the field a misspelt one of the grid file means', async () => {
    const run = await cli(['experiment', '--grid', 'typo.json', '--out', 'typo']);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(
      'unknown field "datset" (did you mean "datasets"?); the fields here are name, description, seeds, datasets, models',
    );
    expect(existsSync(join(scratch, 'typo'))).toBe(false);
  });
});
