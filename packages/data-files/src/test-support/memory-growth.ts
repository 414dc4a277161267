import { open } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { load, npyBytes, tempDir, writeNpy } from './dataset-files.js';

export const ROWS = 200_000;
export const COLS = 64;
const CLASSES = 10;

/** A big .npy written a few thousand rows at a time, so that writing it does not itself raise the baseline. */
export async function writeBigNpy(path: string, descr: '<f4' | '<f8'): Promise<number> {
  const header = npyBytes(descr, [ROWS, COLS], []);
  const handle = await open(path, 'w');
  try {
    await handle.write(header);
    const block = 4096;
    for (let first = 0; first < ROWS; first += block) {
      const count = Math.min(block, ROWS - first);
      const values = descr === '<f4' ? new Float32Array(count * COLS) : new Float64Array(count * COLS);
      // Row r holds r + k / 64 in column k: exact in float32 for r < 2^18, so every value can be checked.
      for (let i = 0; i < values.length; i++) values[i] = first + Math.floor(i / COLS) + (i % COLS) / 64;
      await handle.write(new Uint8Array(values.buffer));
    }
  } finally {
    await handle.close();
  }
  return header.length + ROWS * COLS * (descr === '<f4' ? 4 : 8);
}

export interface Growth {
  readonly rss: number;
  readonly arrayBuffers: number;
}

/** Peak growth of RSS and of ArrayBuffer memory while `work` runs, sampled every millisecond and at the end. */
export async function peakGrowth<T>(work: () => Promise<T>): Promise<{ growth: Growth; result: T }> {
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakBuffers = before.arrayBuffers;
  const sample = () => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
  };
  const timer = setInterval(sample, 1);
  try {
    const result = await work();
    sample();
    return { growth: { rss: peakRss - before.rss, arrayBuffers: peakBuffers - before.arrayBuffers }, result };
  } finally {
    clearInterval(timer);
  }
}

export const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export interface BigLoad {
  readonly growth: Growth;
  readonly fileBytes: number;
  readonly float32Bytes: number;
  /** Rows in all splits together. */
  readonly rows: number;
  /** Rows (up to 1,000 per split) whose values or label differ from what was written. */
  readonly wrongRows: number;
}

/** Writes a ROWS x COLS .npy of `descr` with integer labels, loads it while measuring the peak growth, checks the values. */
export async function loadBigNpy(path: (name: string) => string, descr: '<f4' | '<f8'): Promise<BigLoad> {
  const data = path(`big${descr.slice(1)}.npy`);
  const fileBytes = await writeBigNpy(data, descr);
  const labels = await writeNpy(
    path('labels.npy'),
    '<i4',
    [ROWS],
    Array.from({ length: ROWS }, (_, i) => i % CLASSES),
  );
  const float32Bytes = ROWS * COLS * 4;

  const { growth, result: dataset } = await peakGrowth(() => load({ data, labels }));
  let wrongRows = 0;
  for (const split of [dataset.train, dataset.validation, dataset.test]) {
    for (let i = 0; i < Math.min(1000, split.features.rows); i++) {
      const row = split.features.data.subarray(i * COLS, (i + 1) * COLS);
      if (split.labels[i] !== row[0]! % CLASSES || row.some((value, k) => value !== row[0]! + k / 64)) wrongRows++;
    }
  }
  console.info(
    `${descr} ${ROWS} x ${COLS}: file ${mb(fileBytes)}, float32 data ${mb(float32Bytes)}; peak growth: rss ${mb(growth.rss)} (${(growth.rss / fileBytes).toFixed(2)}x the file), ` +
      `ArrayBuffers ${mb(growth.arrayBuffers)} (${(growth.arrayBuffers / float32Bytes).toFixed(2)}x the float32 data)`,
  );
  const rows = dataset.train.features.rows + dataset.validation.features.rows + dataset.test.features.rows;
  return { growth, fileBytes, float32Bytes, rows, wrongRows };
}

/**
 * Reading a big .npy of `descr` holds about one float32 copy of its data, as a vitest suite. Call it once per test
 * file: each file runs in a fresh process, so RSS growth is not hidden by memory freed by an earlier load.
 */
export function bigNpyMemorySuite(descr: '<f4' | '<f8'): void {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(async () => {
    await tmp.remove();
  });

  describe(`reading a big ${descr === '<f4' ? 'float32' : 'float64'} .npy`, () => {
    it('holds one float32 copy of the data besides its read buffers: peak growth under 2x the file', async () => {
      const { growth, fileBytes, float32Bytes, rows, wrongRows } = await loadBigNpy(tmp.path, descr);
      expect([rows, wrongRows]).toEqual([ROWS, 0]);
      // One float32 copy in the split arrays, and what may still await collection at the peak: the features' 8 MiB
      // read buffer, a 4 MiB buffer per fingerprinted file, the labels' and the per-row index arrays (measured:
      // 48.0-66.8 MiB in all for 48.8 MiB of float32 data). A second copy or the file held whole adds 48.8 MiB.
      expect(growth.arrayBuffers).toBeLessThan(float32Bytes + 24 * 2 ** 20);
      // RSS also moves with V8's heap and with freed pages not yet returned (45-75 MiB for the float32 file).
      expect(growth.rss).toBeLessThan(1.75 * fileBytes);
    });
  });
}
