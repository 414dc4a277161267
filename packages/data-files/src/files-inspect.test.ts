import { resolveOptions } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesDataset } from './files-dataset.js';
import type { FilesOptionsInput } from './files-options.js';
import { failure, load, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';

// `inspect` learns by reading the labels what only the files can say (the class count), for a grid to refuse
// impossible prototype sizes before its first run: it must count exactly the classes generate makes.

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const inspect = (options: FilesOptionsInput) => filesDataset.inspect!(resolveOptions(filesDataset, options));

/** A CSV of `classes` classes named `c0`, `c1`, ... (`perClass` rows each, 3 features) with a "species" label column. */
function csv(classes: number, perClass = 6, label = (c: number) => `c${c}`): string {
  const lines = ['a,b,c,species'];
  for (let r = 0; r < perClass; r++) for (let c = 0; c < classes; c++) lines.push(`${c},${r},${c * r},${label(c)}`);
  return lines.join('\n');
}

describe('dataset:files inspect', () => {
  it('reads the class count and width of a CSV label column: those generate gives', async () => {
    const data = await writeText(tmp.path('forty.csv'), csv(40));
    const options = { data, labelColumn: 'species' };
    expect(filesDataset.describe!(resolveOptions(filesDataset, options))).toEqual({});
    expect(await inspect(options)).toEqual({ classes: 40, inputWidth: 3 });
    const generated = await load(options);
    expect([generated.classes, generated.inputWidth]).toEqual([40, 3]);
  });

  it('counts integer labels that are not 0..C-1, and .npy labels, as generate maps them', async () => {
    // Labels 3, 7 and 11 are three classes, not twelve.
    const data = await writeText(
      tmp.path('gaps.csv'),
      csv(3, 6, (c) => String(3 + 4 * c)),
    );
    expect(await inspect({ data, labelColumn: 'species' })).toEqual({ classes: 3, inputWidth: 3 });
    expect((await load({ data, labelColumn: 'species' })).classes).toBe(3);

    const rows = 5 * 4;
    const x = await writeNpy(
      tmp.path('x.npy'),
      '<f4',
      [rows, 2],
      Array.from({ length: rows * 2 }, (_, i) => i % 7),
    );
    const y = await writeNpy(
      tmp.path('y.npy'),
      '<i8',
      [rows],
      Array.from({ length: rows }, (_, i) => i % 5),
    );
    expect(await inspect({ data: x, labels: y })).toEqual({ classes: 5, inputWidth: 2 });
    expect((await load({ data: x, labels: y })).classes).toBe(5);
  });

  it('refuses labels generate would refuse, with the same message', async () => {
    const single = await writeText(tmp.path('single.csv'), csv(1));
    const options = { data: single, labelColumn: 'species' };
    const [inspected, generated] = [await failure(inspect(options)), await failure(load(options))];
    expect(inspected.message).toMatch(/holds a single class \("c0"\); a classifier needs at least 2 classes/);
    expect(inspected).toMatchObject({ code: generated.code, message: generated.message });
  });
});
