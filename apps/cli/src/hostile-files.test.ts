import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMatrix } from '@hyperproto/core';
import { encodeNpy } from '@hyperproto/npy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './test-support/run-cli.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

// Input files that are not what they seem: before these were refused, a link to /dev/zero was read until memory
// ran out and a named pipe blocked the command for ever. Each must fail at once, in one line naming the file.
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-hostile-'));
const cli = (args: string[]) => runCli(args, scratch);
const WIDTH = 4;

beforeAll(() => {
  writeFileSync(join(scratch, 'model.onnx'), seededSoftmaxModel({ width: WIDTH, classes: 3 }));
  symlinkSync('/dev/zero', join(scratch, 'zero.npy'));
  execFileSync('mkfifo', [join(scratch, 'pipe.csv')]);
  writeFileSync(join(scratch, 'labels.txt'), 'a\nb\na\nb\na\nb\n');
  const npy = encodeNpy(createMatrix(3, WIDTH, new Float32Array(3 * WIDTH)));
  writeFileSync(join(scratch, 'cut.npy'), npy.subarray(0, npy.length - 8));
  writeFileSync(join(scratch, 'long.npy'), Buffer.concat([npy, Buffer.alloc(4)]));
  // The same bytes with the shape (1, 4) rewritten as (4,): a 1-D array, header length unchanged.
  const row = Buffer.from(encodeNpy(createMatrix(1, WIDTH, new Float32Array(WIDTH))));
  writeFileSync(join(scratch, 'flat.npy'), Buffer.from(row.toString('latin1').replace('(1, 4), }', '(4,), }  '), 'latin1'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The exit code and the error line (the hint, if any, follows on its own line), and never a stack trace. */
function refusal(run: CliRun): [number, string] {
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return [run.code, run.stderr.split('\n')[0]!];
}

const PIPES_HINT = 'hint: Pipes and devices cannot be read as input: save the data to a file and give its path.';

describe('hostile input files', () => {
  it('predict refuses a .npy input that links to /dev/zero', async () => {
    const run = await cli(['predict', 'model.onnx', '--input', 'zero.npy']);
    expect(refusal(run)).toEqual([
      3,
      'error E_IO: cannot read --input zero.npy: it is a character device, not a regular file; give a .npy file saved with np.save',
    ]);
    expect(run.stderr.split('\n')[1]).toBe(PIPES_HINT);
  });

  it('predict refuses a named pipe as input', async () => {
    const run = await cli(['predict', 'model.onnx', '--input', 'pipe.csv']);
    expect(refusal(run)).toEqual([
      3,
      'error E_IO: cannot read --input pipe.csv: it is a named pipe (FIFO), not a regular file; give a .npy, .csv, .jsonl file',
    ]);
  });

  it('train refuses a named pipe as --data', async () => {
    const run = await cli(['train', '--dataset', 'files', '--data', 'pipe.csv', '--labels', 'labels.txt', '--out', 'run']);
    expect(refusal(run)).toEqual([
      3,
      'error E_IO: dataset:files: cannot read pipe.csv: it is a named pipe (FIFO), not a regular file; give the path of a .npy, .csv, .jsonl or text file',
    ]);
    expect(run.stderr.split('\n')[1]).toBe(PIPES_HINT);
  });

  it('predict refuses a .npy input cut short or too long, naming expected and actual bytes', async () => {
    expect(refusal(await cli(['predict', 'model.onnx', '--input', 'cut.npy']))).toEqual([
      2,
      'error E_INVALID_INPUT: --input cut.npy is truncated: its header declares a float32 array of shape (3, 4), which takes 176 bytes (128 header + 48 data), but the file has 168 bytes',
    ]);
    expect(refusal(await cli(['predict', 'model.onnx', '--input', 'long.npy']))).toEqual([
      2,
      'error E_INVALID_INPUT: --input long.npy is longer than its header declares: a float32 array of shape (3, 4), which takes 176 bytes (128 header + 48 data), but the file has 180 bytes (4 extra)',
    ]);
  });

  it('predict names a 1-D .npy input as the input it is, with the shape as Python writes it', async () => {
    expect(refusal(await cli(['predict', 'model.onnx', '--input', 'flat.npy']))).toEqual([
      2,
      'error E_INVALID_INPUT: --input flat.npy holds an array of shape (4,); expected a 2-D [rows, features] array (one row per input)',
    ]);
  });

  it('export refuses a named pipe as --class-names at once, before loading the model', async () => {
    const trained = await cli(['train', ...tinyTrainFlags({ maxEpochs: 1 }), '--out', 'trained']);
    expect(trained.code, trained.stderr).toBe(0);
    execFileSync('mkfifo', [join(scratch, 'names.txt')]);
    const started = performance.now();
    const run = await cli(['export', 'trained', '--out', 'named.onnx', '--class-names', 'names.txt']);
    // Read, the pipe would block until the test timed out; refused, only the process start counts.
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(refusal(run)).toEqual([
      3,
      'error E_IO: cannot read --class-names names.txt: it is a named pipe (FIFO), not a regular file; give a .json file or a text file with one class name per line',
    ]);
    expect(run.stderr.split('\n')[1]).toBe(PIPES_HINT);
    expect(existsSync(join(scratch, 'named.onnx'))).toBe(false);
  });

  it('prototypes inspect and --start name the file as it was given', async () => {
    expect(refusal(await cli(['prototypes', 'inspect', 'zero.npy']))).toEqual([
      3,
      'error E_IO: cannot read zero.npy: it is a character device, not a regular file; give a .npy file saved with np.save',
    ]);
    const start = ['prototypes', '--strategy', 'spread', '--start', 'zero.npy', '--classes', '3', '--dims', '4', '--out', 's.npy'];
    expect(refusal(await cli(start))).toEqual([
      3,
      'error E_IO: cannot read --start zero.npy: it is a character device, not a regular file; give a .npy file saved with np.save',
    ]);
  });

  it('train names a prototype file that links to /dev/zero by its flag', async () => {
    const run = await cli(['train', ...tinyTrainFlags({ maxEpochs: 1 }), '--head', 'hpn', '--prototypes', 'zero.npy', '--out', 'hpn-zero']);
    expect(refusal(run)).toEqual([
      3,
      'error E_IO: cannot read --prototypes zero.npy: it is a character device, not a regular file; give a .npy file saved with np.save',
    ]);
    expect(existsSync(join(scratch, 'hpn-zero'))).toBe(false);
  });
});
