import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-run-size-'));
const cli = (args: string[]) => runCli(args, scratch);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('hyperproto train and sizes that cannot be allocated', () => {
  it('refuses --dims 100000000 with exit code 2, naming --dims and the largest that fits, before any data or prototypes', async () => {
    const run = await cli([
      'train',
      '--classes',
      '10',
      '--max-epochs',
      '1',
      '--head',
      'hpn',
      '--prototypes',
      'random',
      '--dims',
      '100000000',
      '--out',
      'huge',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "error E_INVALID_OPTIONS: the network's weights with Adam's two moments would need 335.3 GiB, more than the 8 GiB a run may hold " +
        '(its output layer is 300 x 100000000); lower --dims (prototypes.dims) to at most 2385492\n',
    );
    // Refused while planning: no run directory, and none of the 10 x 100,000,000 prototypes (over a minute to make).
    expect(existsSync(join(scratch, 'huge'))).toBe(false);
  });

  it('names --hidden-units when the hidden layers are what does not fit', async () => {
    const run = await cli(['train', '--classes', '10', '--max-epochs', '1', '--hidden-units', '100000000', '--out', 'wide', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: expect.stringMatching(/\(its hidden layers are 300 x 100000000 and 1 x \(100000000 x 100000000\)\); lower --hidden-units/),
    });
  });

  it('trains a --batch-size larger than the training split as one batch of the whole split', async () => {
    // 3 classes x 40 training rows.
    const larger = await cli(['train', ...tinyTrainFlags({ maxEpochs: 2, batchSize: 100_000_000 }), '--out', 'larger']);
    expect(larger.code, larger.stderr).toBe(0);
    const whole = await cli(['train', ...tinyTrainFlags({ maxEpochs: 2, batchSize: 120 }), '--out', 'whole']);
    expect(whole.code, whole.stderr).toBe(0);
    const losses = (dir: string) =>
      (JSON.parse(readFileSync(join(scratch, dir, 'history.json'), 'utf8')) as { trainLoss: number; validationLoss: number }[]).map(
        (epoch) => [epoch.trainLoss, epoch.validationLoss],
      );
    expect(losses('larger')).toHaveLength(2);
    expect(losses('larger')).toEqual(losses('whole'));
  });
});
