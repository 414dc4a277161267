import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-run-names-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const TINY = tinyTrainFlags({ maxEpochs: 2 });

describe('train without --out', () => {
  it('names the run directory after the options given, so runs that differ in one option do not collide', async () => {
    for (const scale of ['8', '16']) {
      const run = await runCli(
        [
          'train',
          ...TINY,
          '--head',
          'cosine-softmax',
          '--head-option',
          `scale=${scale}`,
          '--prototypes',
          'simplex',
          '--dims',
          '2',
          '--json',
        ],
        scratch,
      );
      expect(run.code, run.stderr).toBe(0);
    }
    expect(readdirSync(join(scratch, 'runs')).sort()).toEqual([
      'cosine-softmax-scale16-simplex2-c3-sigma0.5-testPerClass20-trainPerClass40-validationPerClass20-s0',
      'cosine-softmax-scale8-simplex2-c3-sigma0.5-testPerClass20-trainPerClass40-validationPerClass20-s0',
    ]);
  });

  it('names a bad option before it looks at --out', async () => {
    const taken = join(scratch, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'notes.txt'), 'mine\n');
    const run = await runCli(['train', ...TINY, '--head', 'softmax', '--head-option', 'scale=8', '--out', taken], scratch);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/E_INVALID_OPTIONS: head:softmax: .*"scale"/);
    expect(run.stderr).not.toContain('taken');
  });
});
