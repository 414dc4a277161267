import { execFileSync } from 'node:child_process';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readClassNames } from './class-names.js';
import { failure, tempDir, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const PRETTY_ARRAY = '[\n  "north",\n  "east",\n  "south"\n]\n';

describe('a file of class names', () => {
  it('gives the same names from a .txt and a .json file', async () => {
    const lines = await readClassNames(await writeText(tmp.path('names.txt'), ' north\neast \nsouth\n\n'));
    const json = await readClassNames(await writeText(tmp.path('names.json'), '[" north", "east ", "south"]'));
    expect(lines?.names).toEqual(['north', 'east', 'south']);
    expect(json?.names).toEqual(['north', 'east', 'south']);
  });

  it('refuses a JSON array in a file not named .json, and says to rename it', async () => {
    for (const [file, text] of [
      ['pretty.txt', PRETTY_ARRAY],
      ['one-line.txt', '["north", "east", "south"]\n'],
      // Not valid JSON, but begun as a JSON array is: read as lines, its first class would be named `[`.
      ['trailing-comma', '[\n"north",\n"east",\n]\n'],
    ]) {
      const path = await writeText(tmp.path(file!), text!);
      const stem = path.replace(/\.txt$/, '');
      expect(await failure(readClassNames(path))).toMatchObject({
        code: ErrorCode.InvalidInput,
        message: `${path} looks like a JSON array, but only a file whose name ends in .json is read as JSON, and this one would be read as one class name per line; rename it to ${stem}.json, or write one class name per line`,
      });
    }
    expect((await readClassNames(await writeText(tmp.path('pretty.json'), PRETTY_ARRAY)))?.names).toEqual(['north', 'east', 'south']);
  });

  it('reads names that begin with "[" as lines, and hints at .json only when it refuses them', async () => {
    const bins = await writeText(tmp.path('bins.txt'), '[0,10)\n[10,20)\n[20,30]\n');
    expect((await readClassNames(bins))?.names).toEqual(['[0,10)', '[10,20)', '[20,30]']);
    const broken = await writeText(tmp.path('broken.txt'), '["north", "east", "south",]\n');
    expect(await failure(readClassNames(broken))).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `${broken} lists 1 class name; a classifier needs at least 2`,
      hint: `${broken} starts with "[" as a JSON array does, but is read as one class name per line: if it is a JSON array, rename it to ${tmp.path('broken.json')}.`,
    });
    const repeated = await writeText(tmp.path('repeated.txt'), '[a]\n[b]\n[a]\n');
    expect((await failure(readClassNames(repeated))).hint).toMatch(/rename it to .*repeated\.json\.$/);
  });

  it('names the file as the caller says, in every refusal', async () => {
    const what = { what: '--class-names names.txt' };
    const repeated = await writeText(tmp.path('names.txt'), 'north\neast\nnorth\n');
    expect(await failure(readClassNames(repeated, what))).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: '--class-names names.txt line 3: class name "north" repeats --class-names names.txt line 1; class names must be distinct',
    });
    const gap = await writeText(tmp.path('gap.txt'), 'north\n\nsouth\n');
    expect((await failure(readClassNames(gap, { what: '--class-names gap.txt' }))).message).toBe(
      '--class-names gap.txt line 2: the class name is empty; give every class a name',
    );
    const fifo = tmp.path('pipe.txt');
    execFileSync('mkfifo', [fifo]);
    expect(await failure(readClassNames(fifo, { what: '--class-names pipe.txt' }))).toMatchObject({
      code: ErrorCode.Io,
      message:
        'cannot read --class-names pipe.txt: it is a named pipe (FIFO), not a regular file; give a .json file or a text file with one class name per line',
    });
  });
});
