import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const scratch = join(resolve(fileURLToPath(import.meta.url), '../..'), 'test-output-data-inspect');
const cli = (args: string[]) => runCli(args, scratch);

beforeAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Overlapping clusters, so that neither rule is perfect and the class mean (from 3 rows per class) trails the truth.
const DATA = ['--classes', '40', '--sigma', '3', '--dataset-option', 'inputWidth=30', '--train-per-class', '3'];

describe('hyperproto data inspect', () => {
  it('scores the test split as `train` does for the same seed: the same Bayes-optimal and class-mean numbers', async () => {
    const sizes = ['--validation-per-class', '2', '--test-per-class', '5', '--seed', '4'];
    const inspected = await cli(['data', 'inspect', ...DATA, ...sizes, '--split', 'test', '--json']);
    expect(inspected.code, inspected.stderr).toBe(0);
    const report = JSON.parse(inspected.stdout);
    expect(report).toMatchObject({
      classes: 40,
      inputWidth: 30,
      rows: { train: 120, validation: 80, test: 200 },
      split: 'test',
      classesInSplit: 40,
      chance: 1 / 40,
      info: { sigma: 3 },
    });
    const trained = await cli(['train', ...DATA, ...sizes, '--hidden-units', '8', '--max-epochs', '1', '--out', 'run', '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    const run = JSON.parse(trained.stdout);
    expect(report.bayes).toEqual(run.bayes);
    expect(report.classMean).toEqual(run.classMean);
    // Neither is trivial here: the class mean from 3 rows per class falls below the Bayes-optimal rule.
    expect(report.bayes.accuracy).toBeLessThan(1);
    expect(report.classMean.accuracy).toBeLessThan(report.bayes.accuracy);
    expect(report.classMean.accuracy).toBeGreaterThan(report.chance);
  });

  it('scores the validation split by default, and says when it holds only some classes', async () => {
    const full = JSON.parse(
      (await cli(['data', 'inspect', ...DATA, '--validation-per-class', '3', '--test-per-class', '1', '--json'])).stdout,
    );
    expect(full).toMatchObject({ split: 'validation', classesInSplit: 40, rows: { validation: 120 } });
    const partial = await cli(['data', 'inspect', ...DATA, '--dataset-option', 'validationRows=25', '--test-per-class', '1']);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stdout).toMatch(/rows: train 120, validation 25, test 40/);
    expect(partial.stdout).toMatch(/it holds rows of 25 of the 40 classes: macro-F1 counts the others as 0, read accuracy/);
    expect(partial.stdout).toMatch(/Bayes-optimal +macro-F1 +[\d.]+% +accuracy +[\d.]+%/);
    expect(partial.stdout).toMatch(/class-mean baseline +macro-F1/);
  });

  it('has help, under `data` too', async () => {
    for (const args of [
      ['data', '--help'],
      ['data', 'inspect', '--help'],
    ]) {
      const run = await cli(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: hyperproto data/);
    }
    expect((await cli(['data', 'inspect', '--help'])).stdout).toMatch(/--split <name>/);
  });

  it('refuses bad input with a clear message and a non-zero exit', async () => {
    const noSigma = await cli(['data', 'inspect', '--classes', '37', '--json']);
    expect(noSigma.code).toBe(2);
    expect(JSON.parse(noSigma.stdout).error).toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: expect.stringMatching(/no default for 37 classes/),
    });
    const badSplit = await cli(['data', 'inspect', '--classes', '10', '--split', 'train']);
    expect(badSplit.code).toBe(2);
    expect(badSplit.stderr).toMatch(/--split.*train.*(validation|choices)/s);
    const unknown = await cli(['data', 'inspect', '--dataset', 'gausian', '--classes', '10']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/gausian/);
    expect(unknown.stderr).toMatch(/gaussian/);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  });
});
