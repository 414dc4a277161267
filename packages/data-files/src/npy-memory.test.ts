import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './test-support/dataset-files.js';
import { loadBigNpy, ROWS } from './test-support/memory-growth.js';

// One load per test file: each file runs in a fresh process, so RSS growth is not hidden by memory freed earlier.
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

describe('reading a big float32 .npy', () => {
  it('holds about one float32 copy of the data: peak growth well under 2x the file', async () => {
    const { growth, fileBytes, float32Bytes, rows, wrongRows } = await loadBigNpy(tmp.path, '<f4');
    expect([rows, wrongRows]).toEqual([ROWS, 0]);
    // One float32 copy in the split arrays, an 8 MiB read buffer and the small per-row index arrays.
    expect(growth.arrayBuffers).toBeLessThan(1.35 * float32Bytes);
    expect(growth.rss).toBeLessThan(1.5 * fileBytes);
  });
});
