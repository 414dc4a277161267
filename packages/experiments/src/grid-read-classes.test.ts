// A dataset that says its class count only by reading its data (the files dataset without classNames) is read once
// before the first run, so that a prototype size the strategy cannot make for that count is refused before any run.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { runGrid } from './grid-runner.js';
import { type GridInput, parseGrid } from './grid-schema.js';
import { checkReadClassCounts } from './grid-validation.js';
import { buildRegistry } from './test-support/labelled-dataset-registry.js';
import { asyncRefusal } from './test-support/refusal.js';

const registryModule = fileURLToPath(new URL('./test-support/labelled-dataset-registry.ts', import.meta.url));

let dir: string;
let out: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hyperproto-read-classes-'));
  out = join(dir, 'results');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A labels file of `classes` classes, two rows each. */
const labelsFile = (name: string, classes: number) => {
  const path = join(dir, name);
  writeFileSync(path, Array.from({ length: classes * 2 }, (_, i) => `class-${i % classes}\n`).join(''));
  return path;
};

const SOFTMAX = { id: 'softmax', head: 'softmax' };
// The fake `axes` strategy needs dims >= classes / 2: 8 dims hold 16 classes, 20 dims hold 40.
const AXES_8 = { id: 'axes-8', head: 'hpn', prototypes: { strategy: 'axes', dims: 8 } };
const AXES_20 = { id: 'axes-20', head: 'hpn', prototypes: { strategy: 'axes', dims: 20 } };

const grid = (datasets: GridInput['datasets'], models: GridInput['models'], seeds = 1) =>
  parseGrid({ name: 'own-data', seeds, datasets, models, trainer: { maxEpochs: 3 } });
const run = (g: ReturnType<typeof grid>, options: { resume?: boolean; only?: string[]; log?: string[] } = {}) =>
  runGrid({
    grid: g,
    gridSource: 'grid.json',
    out,
    registryModule,
    inline: true,
    workers: 1,
    ...(options.resume ? { resume: true } : {}),
    ...(options.only ? { only: options.only } : {}),
    onLog: (message) => options.log?.push(message),
  });
const readLogs = (log: string[]) => log.filter((message) => message.startsWith('reading the data of dataset'));

describe('class counts read from the data before the first run', () => {
  it('refuses each cell whose prototypes cannot exist at the count read, naming the cell and the count, before any run', async () => {
    const mine = { id: 'mine', name: 'labelled', options: { labels: labelsFile('forty.txt', 40) } };
    const log: string[] = [];
    const error = await asyncRefusal(run(grid([mine], [SOFTMAX, AXES_8, AXES_20])));
    expect(error.code).toBe(ErrorCode.Unsupported);
    expect(error.message).toBe(
      'grid.json models.1 "axes-8" on datasets.0 "mine" (40 classes in its data): prototype strategy "axes" cannot make 40 prototypes in 8 dimensions: needs dims >= classes / 2',
    );
    expect(error.hint).toMatch(
      /Give the model more "dims", another strategy, or a "datasets" list without that dataset; nothing has been run\.$/,
    );
    // Nothing ran and nothing was written: not even the results directory is left.
    expect(existsSync(out)).toBe(false);

    // Without the impossible cell, the grid runs; the dataset is read once for all its cells.
    const ran = await run(grid([mine], [SOFTMAX, AXES_20]), { log });
    expect(ran).toMatchObject({ ran: 2, failed: [] });
    expect(readLogs(log)).toEqual(['reading the data of dataset "mine" for its class count, to check the prototype sizes before any run']);
  });

  it('lists every impossible cell of every dataset read, and a dataset whose data inspect refuses', async () => {
    const registry = buildRegistry().registry;
    const g = grid(
      [
        { id: 'forty', name: 'labelled', options: { labels: labelsFile('forty.txt', 40) } },
        { id: 'twenty', name: 'labelled', options: { labels: labelsFile('twenty.txt', 20) } },
        { id: 'one', name: 'labelled', options: { labels: labelsFile('one.txt', 1) } },
        { id: 'c30', name: 'blobs', options: { classes: 30 } },
      ],
      [SOFTMAX, { ...AXES_8, datasets: ['forty', 'twenty', 'one'] }],
    );
    const error = await asyncRefusal(checkReadClassCounts({ registry, grid: g, datasets: new Set(['forty', 'twenty', 'one', 'c30']) }));
    expect(error.message).toBe(
      [
        'the grid has 3 problems:',
        `grid datasets.2 "one": dataset:labelled: ${join(dir, 'one.txt')} holds a single class; a classifier needs at least 2`,
        'grid models.1 "axes-8" on datasets.0 "forty" (40 classes in its data): prototype strategy "axes" cannot make 40 prototypes in 8 dimensions: needs dims >= classes / 2',
        'grid models.1 "axes-8" on datasets.1 "twenty" (20 classes in its data): prototype strategy "axes" cannot make 20 prototypes in 8 dimensions: needs dims >= classes / 2',
      ].join('\n  '),
    );
  });

  it('reads only datasets with runs to do that a prototype model runs on and whose describe leaves the count unknown', async () => {
    const registry = buildRegistry().registry;
    const labels = labelsFile('forty.txt', 40);
    const check = (datasets: string[], models: GridInput['models'], options: Record<string, unknown> = {}) => {
      const log: string[] = [];
      const g = grid([{ id: 'forty', name: 'labelled', options: { labels, ...options } }], models);
      return checkReadClassCounts({ registry, grid: g, datasets: new Set(datasets), log: (m) => log.push(m) }).then((read) => ({
        read: Object.fromEntries(read),
        logged: readLogs(log).length,
      }));
    };
    expect(await check(['forty'], [SOFTMAX, AXES_20])).toEqual({ read: { forty: 40 }, logged: 1 });
    // No prototype model, no runs to do, or a count that describe says: nothing read.
    expect(await check(['forty'], [SOFTMAX])).toEqual({ read: {}, logged: 0 });
    expect(await check([], [SOFTMAX, AXES_20])).toEqual({ read: {}, logged: 0 });
    expect(await check(['forty'], [SOFTMAX, { ...AXES_8, datasets: ['forty'] }], { classNames: ['a', 'b'] })).toEqual({
      read: {},
      logged: 0,
    });
  });

  it('does not read a dataset whose runs are all finished or not selected', async () => {
    const mine = { id: 'mine', name: 'labelled', options: { labels: labelsFile('forty.txt', 40) } };
    const other = { id: 'other', name: 'labelled', options: { labels: labelsFile('eight.txt', 8) } };
    const reading = (id: string) => `reading the data of dataset "${id}" for its class count, to check the prototype sizes before any run`;
    const first: string[] = [];
    expect(await run(grid([mine, other], [AXES_20]), { only: ['mine'], log: first })).toMatchObject({ ran: 1, failed: [] });
    expect(readLogs(first)).toEqual([reading('mine')]);
    // The finished dataset's file is now gone: it is not read again, and the other dataset is.
    rmSync(join(dir, 'forty.txt'));
    const second: string[] = [];
    expect(await run(grid([mine, other], [AXES_20]), { resume: true, log: second })).toMatchObject({ ran: 1, skipped: 1, failed: [] });
    expect(readLogs(second)).toEqual([reading('other')]);
  });
});
