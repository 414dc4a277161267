import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMatrix, ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeNpy } from './npy-format.js';
import { readMatrixNpy, writeMatrixNpy } from './npy-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperproto-npy-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a failure');
}

/** A float32 C-order .npy file with any shape, through the public encoder's header format. */
async function writeShape(path: string, shape: string, count: number): Promise<void> {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const header = `${dict + ' '.repeat(118 - dict.length - 1)}\n`;
  await writeFile(path, Buffer.concat([Buffer.from('\x93NUMPY\x01\x00\x76\x00', 'latin1'), Buffer.from(header), Buffer.alloc(count * 4)]));
}

describe('writeMatrixNpy / readMatrixNpy', () => {
  it('round-trips a matrix and leaves no temporary files', async () => {
    const path = join(dir, 'prototypes-3d-4c.npy');
    const matrix = createMatrix(
      4,
      3,
      Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) / 3),
    );
    await writeMatrixNpy(path, matrix);
    const read = await readMatrixNpy(path);
    expect([read.rows, read.cols]).toEqual([4, 3]);
    expect(Array.from(read.data)).toEqual(Array.from(matrix.data));
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(encodeNpy(matrix)))).toBe(true);
    expect(await readdir(dir)).toEqual(['prototypes-3d-4c.npy']);
  });

  it('replaces an existing file whole', async () => {
    const path = join(dir, 'p.npy');
    await writeMatrixNpy(path, createMatrix(50, 20, new Float32Array(1000).fill(1)));
    await writeMatrixNpy(path, createMatrix(1, 2, Float32Array.from([5, 6])));
    const read = await readMatrixNpy(path);
    expect([read.rows, read.cols, ...read.data]).toEqual([1, 2, 5, 6]);
    expect(await readdir(dir)).toEqual(['p.npy']);
  });

  it('fails with E_IO naming the path when the directory does not exist', async () => {
    const path = join(dir, 'missing', 'p.npy');
    const error = await failure(writeMatrixNpy(path, createMatrix(1, 1, Float32Array.from([1]))));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(`cannot write ${path}: no such file or directory`);
  });

  it('cleans up its temporary file when the final rename fails', async () => {
    // The target is a non-empty directory: the data is written, but the rename over it cannot succeed.
    const path = join(dir, 'taken.npy');
    await mkdir(path);
    await writeFile(join(path, 'keep'), 'x');
    const error = await failure(writeMatrixNpy(path, createMatrix(1, 1, Float32Array.from([1]))));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toContain(`cannot write ${path}`);
    expect(await readdir(dir)).toEqual(['taken.npy']);
  });

  it('reads a file written by numpy', async () => {
    const path = join(dir, 'numpy.npy');
    // np.save(path, np.arange(6, dtype='<f4').reshape(2, 3))
    const hex =
      '934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d' +
      '20'.repeat(58) +
      '0a000000000000803f0000004000004040000080400000a040';
    await writeFile(path, Buffer.from(hex, 'hex'));
    const matrix = await readMatrixNpy(path);
    expect([matrix.rows, matrix.cols, ...matrix.data]).toEqual([2, 3, 0, 1, 2, 3, 4, 5]);
  });

  it('fails with E_IO naming the path when the file is missing', async () => {
    const path = join(dir, 'prototypes-100d-1000c.npy');
    const error = await failure(readMatrixNpy(path));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(`cannot read ${path}: no such file or directory`);
  });

  it('fails with E_IO when the path is a directory', async () => {
    const error = await failure(readMatrixNpy(dir));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toMatch(/is a directory/);
  });

  it.each([
    ['(5,)', 5],
    ['(2, 3, 4)', 24],
    ['()', 1],
  ])('rejects an array of shape %s, expecting [C, D]', async (shape, count) => {
    const path = join(dir, 'prototypes.npy');
    await writeShape(path, shape, count);
    const error = await failure(readMatrixNpy(path));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toBe(`${path} holds an array of shape ${shape}; expected a 2-D [C, D] matrix (one row per class)`);
  });

  it('names the file when its contents are bad', async () => {
    const path = join(dir, 'prototypes.npy');
    await writeFile(path, encodeNpy(createMatrix(10, 10, new Float32Array(100))).subarray(0, 200));
    const error = await failure(readMatrixNpy(path));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toBe(
      `${path} is truncated: its header declares a float32 array of shape (10, 10), which takes 528 bytes (128 header + 400 data), but the file has 200 bytes`,
    );
  });

  it('refuses a file longer than its header declares, naming expected and actual bytes', async () => {
    const path = join(dir, 'x.npy');
    const file = encodeNpy(createMatrix(2, 3, new Float32Array(6)));
    await writeFile(path, Buffer.concat([file, Buffer.alloc(1000)]));
    const error = await failure(readMatrixNpy(path, { what: '--input x.npy' }));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toBe(
      '--input x.npy is longer than its header declares: a float32 array of shape (2, 3), which takes 152 bytes (128 header + 24 data), but the file has 1152 bytes (1000 extra)',
    );
  });

  it('names a data file by the label its caller gives, and says what shape a data file needs', async () => {
    const path = join(dir, 'rows.npy');
    await writeShape(path, '(5,)', 5);
    const error = await failure(readMatrixNpy(path, { what: '--input rows.npy', layout: '[rows, features] array' }));
    expect(error.message).toBe('--input rows.npy holds an array of shape (5,); expected a 2-D [rows, features] array');
    await writeFile(path, 'not an array');
    const notNpy = await failure(readMatrixNpy(path, { what: '--input rows.npy' }));
    expect(notNpy.message).toBe('--input rows.npy is not a .npy file: it does not start with "\\x93NUMPY"');
    expect(JSON.stringify(notNpy)).not.toMatch(/prototype/i);
  });
});

describe('readMatrixNpy on what is not a regular file', () => {
  // Each of these would block or never end if it were read: the refusal must come before any read.
  it('refuses a named pipe at once, without waiting for a writer', async () => {
    const fifo = join(dir, 'rows.npy');
    execFileSync('mkfifo', [fifo]);
    const started = performance.now();
    const error = await failure(readMatrixNpy(fifo, { what: '--input rows.npy' }));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(
      'cannot read --input rows.npy: it is a named pipe (FIFO), not a regular file; give a .npy file saved with np.save',
    );
  });

  it('refuses a symlink to /dev/zero without reading from it', async () => {
    const link = join(dir, 'zero.npy');
    await symlink('/dev/zero', link);
    const error = await failure(readMatrixNpy(link, { what: '--prototypes zero.npy' }));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(
      'cannot read --prototypes zero.npy: it is a character device, not a regular file; give a .npy file saved with np.save',
    );
  });

  it('reads a symlink to a regular file', async () => {
    const target = join(dir, 'target.npy');
    await writeMatrixNpy(target, createMatrix(1, 2, Float32Array.from([3, 4])));
    await symlink(target, join(dir, 'link.npy'));
    const matrix = await readMatrixNpy(join(dir, 'link.npy'));
    expect([matrix.rows, matrix.cols, ...matrix.data]).toEqual([1, 2, 3, 4]);
  });
});
