import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { filesDataset } from './files-dataset.js';
import { clusteredRows, failure, load, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const { rows, labels } = clusteredRows(3, 10, 2);
const csv = ['a,b,kind', ...rows.map((row, i) => `${row.join(',')},k${labels[i]}`)].join('\n');

/** What `sha256sum` says of a file. */
async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

describe('file fingerprints of dataset:files', () => {
  it('records every file read, with its absolute path, size and SHA-256, in info.inputs', async () => {
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [30, 2], rows.flat());
    const y = await writeNpy(tmp.path('y.npy'), '<i8', [30], labels);
    const names = await writeText(tmp.path('names.txt'), 'zero\none\ntwo\n');
    const dataset = await load({ data, labels: y, classNames: names });
    expect(dataset.info.inputs).toEqual([
      { option: 'data', path: data, bytes: 128 + 30 * 2 * 4, sha256: await sha256(data) },
      { option: 'labels', path: y, bytes: 128 + 30 * 8, sha256: await sha256(y) },
      { option: 'classNames', path: names, bytes: 13, sha256: await sha256(names) },
    ]);
  });

  it('inputs(options) gives without loading what generate records, and relative paths resolved from the current directory', async () => {
    const data = await writeText(tmp.path('plants.csv'), csv);
    const given = relative(process.cwd(), data);
    expect(given.startsWith('/')).toBe(false);
    const options = { data: given, labelColumn: 'kind' };
    const inputs = await filesDataset.inputs!(options as never);
    expect(inputs).toEqual([{ option: 'data', path: data, bytes: Buffer.byteLength(csv), sha256: await sha256(data) }]);
    expect((await load(options)).info.inputs).toEqual(inputs);
  });

  it('tells a changed file apart by size or, at the same size, by content', async () => {
    const data = await writeText(tmp.path('plants.csv'), csv);
    const before = await filesDataset.inputs!({ data, labelColumn: 'kind' } as never);
    await writeText(data, csv.replace('k0', 'k9'));
    const sameSize = await filesDataset.inputs!({ data, labelColumn: 'kind' } as never);
    expect(sameSize[0]!.bytes).toBe(before[0]!.bytes);
    expect(sameSize[0]!.sha256).not.toBe(before[0]!.sha256);
    await writeText(data, `${csv}\n1,2,k1`);
    const longer = await filesDataset.inputs!({ data, labelColumn: 'kind' } as never);
    expect(longer[0]!.bytes).toBe(before[0]!.bytes + 7);
  });

  it('a missing file is E_IO naming it, as when loading', async () => {
    const error = await failure(filesDataset.inputs!({ data: tmp.path('gone.csv'), labelColumn: 'kind' } as never));
    expect(error.code).toBe(ErrorCode.Io);
    expect(error.message).toContain(`cannot read ${tmp.path('gone.csv')}`);
  });
});
