import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inputFileSize, openInputFile } from './input-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperproto-input-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  throw new Error('expected a failure');
}

const labels = { what: '--data rows.csv', expected: 'a .npy, .csv or .jsonl file' };

describe('inputFileSize and openInputFile', () => {
  it('give the size of a regular file, also through a symlink', async () => {
    await writeFile(join(dir, 'rows.csv'), '1,2\n3,4\n');
    await symlink(join(dir, 'rows.csv'), join(dir, 'link.csv'));
    expect(await inputFileSize(join(dir, 'link.csv'), labels)).toBe(8);
    const { handle, size } = await openInputFile(join(dir, 'link.csv'), labels);
    try {
      expect(size).toBe(8);
      expect((await handle.readFile()).toString()).toBe('1,2\n3,4\n');
    } finally {
      await handle.close();
    }
  });

  it.each([
    ['inputFileSize', inputFileSize],
    ['openInputFile', openInputFile],
  ] as const)('%s refuses a named pipe at once, saying what it is and what to give', async (_, check) => {
    const fifo = join(dir, 'rows.csv');
    execFileSync('mkfifo', [fifo]);
    const started = performance.now();
    const error = await failure(check(fifo, labels));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: 'cannot read --data rows.csv: it is a named pipe (FIFO), not a regular file; give a .npy, .csv or .jsonl file',
      hint: 'Pipes and devices cannot be read as input: save the data to a file and give its path.',
    });
  });

  it.each([
    ['inputFileSize', inputFileSize],
    ['openInputFile', openInputFile],
  ] as const)('%s refuses a symlink to /dev/zero', async (_, check) => {
    const link = join(dir, 'zero.csv');
    await symlink('/dev/zero', link);
    const error = await failure(check(link, labels));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(
      'cannot read --data rows.csv: it is a character device, not a regular file; give a .npy, .csv or .jsonl file',
    );
  });

  it('refuses a directory, naming the path when no label is given', async () => {
    const error = await failure(inputFileSize(dir));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toBe(`cannot read ${dir}: it is a directory, not a regular file; give the path of a regular file`);
  });

  it('names a missing path as given, with where relative paths start', async () => {
    const error = await failure(openInputFile(join(dir, 'none.csv'), labels));
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: `cannot read ${join(dir, 'none.csv')}: no such file or directory`,
      hint: `Check the path (relative paths start at ${process.cwd()}).`,
    });
  });
});
