import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMatrix } from '@hyperproto/core';
import { writeMatrixNpy } from '@hyperproto/npy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const scratch = join(resolve(fileURLToPath(import.meta.url), '../..'), 'test-output-geometry');
const cli = (args: string[]) => runCli(args, scratch);

beforeAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('prototype geometry in the CLI', () => {
  it('prototypes and inspect report it: a simplex of 20 in 19 dimensions has 19 equal singular values sqrt(20/19)', async () => {
    const made = await cli(['prototypes', '--strategy', 'simplex', '--classes', '20', '--dims', '19', '--out', 's.npy', '--json']);
    expect(made.code, made.stderr).toBe(0);
    const inspected = await cli(['prototypes', 'inspect', 's.npy', '--json']);
    for (const { geometry } of [JSON.parse(made.stdout), JSON.parse(inspected.stdout)]) {
      expect(geometry).toMatchObject({ classes: 20, dims: 19, notes: [] });
      expect(geometry.largestNearestCosine).toBeCloseTo(-1 / 19, 6);
      expect(geometry.meanNearestCosine).toBeCloseTo(-1 / 19, 6);
      expect(geometry.largestSingularValue).toBeCloseTo(1.025978352, 6);
      expect(geometry.smallestSingularValue).toBeCloseTo(1.025978352, 6);
      expect(geometry.effectiveRank).toBeCloseTo(19, 6);
      expect(geometry.condition).toBeCloseTo(1, 6);
    }
    const text = (await cli(['prototypes', 'inspect', 's.npy'])).stdout;
    expect(text).toMatch(/singular values +largest 1\.02598, smallest 1\.02598 \(19 of them\)/);
    expect(text).toMatch(/effective rank +19\.0 of 19 \(exp of the entropy of s \/ sum s\)/);
    expect(text).toMatch(/condition +1 \(largest \/ smallest singular value\)/);
  });

  it('inspect says the condition is infinite when the rows span fewer dimensions than they could', async () => {
    // Rows e0, e0, e1 in 3 dimensions: singular values sqrt(2), 1, 0.
    await writeMatrixNpy(join(scratch, 'flat.npy'), createMatrix(3, 3, Float32Array.from([1, 0, 0, 1, 0, 0, 0, 1, 0])));
    const run = await cli(['prototypes', 'inspect', 'flat.npy']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/singular values +largest 1\.41421, smallest 0 \(3 of them\)/);
    expect(run.stdout).toMatch(/condition +infinite/);
    expect(run.stdout).toMatch(/condition infinite: the rows span 2 of 3 dimensions \(smallest singular value 0\)/);
  });

  it('inspect names the pair with the largest cosine, in its text as in --json', async () => {
    // e0, e1, e2 and (0.6, 0.8, 0): the closest pair is rows 1 and 3, at cosine 0.8.
    await writeMatrixNpy(join(scratch, 'pair.npy'), createMatrix(4, 3, Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.6, 0.8, 0])));
    const json = await cli(['prototypes', 'inspect', 'pair.npy', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ maxCosinePair: [1, 3] });
    expect(JSON.parse(json.stdout).maxCosine).toBeCloseTo(0.8, 6);
    const text = (await cli(['prototypes', 'inspect', 'pair.npy'])).stdout;
    expect(text).toContain('\n  largest cosine              0.800000   simplex bound -1/(C-1) = -0.333333 (reachable when dims >= 3)\n');
    expect(text).toContain('\n  most similar pair          rows 1 and 3 (counted from 0)\n');
  });

  it("train writes the run's prototype geometry to its output and metrics.json, null for softmax", async () => {
    const small = ['--classes', '3', '--sigma', '0.5', '--train-per-class', '20', '--hidden-units', '8', '--max-epochs', '2'];
    const hpn = await cli(['train', ...small, '--head', 'hpn', '--prototypes', 'orthogonal', '--dims', '3', '--out', 'hpn', '--json']);
    expect(hpn.code, hpn.stderr).toBe(0);
    const printed = JSON.parse(hpn.stdout).prototypeGeometry;
    expect(printed).toMatchObject({ classes: 3, dims: 3, notes: [] });
    expect(printed.effectiveRank).toBeCloseTo(3, 5);
    expect(printed.condition).toBeCloseTo(1, 5);
    expect(Math.abs(printed.largestNearestCosine)).toBeLessThan(1e-6);
    expect(JSON.parse(readFileSync(join(scratch, 'hpn/metrics.json'), 'utf8')).prototypeGeometry).toEqual(printed);
    const softmax = await cli(['train', ...small, '--head', 'softmax', '--out', 'softmax', '--json']);
    expect(softmax.code, softmax.stderr).toBe(0);
    expect(JSON.parse(softmax.stdout).prototypeGeometry).toBeNull();
  });
});
