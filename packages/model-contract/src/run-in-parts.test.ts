import { describe, expect, it } from 'vitest';
import { checkRunBytes, partsOf, RUN_BYTES, rowsPerRun, runInParts, type FeatureMatrix } from './index.js';

describe('rowsPerRun', () => {
  it('gives the rows whose values, at 8 bytes each, fit in the run bytes (256 MiB by default)', () => {
    expect(RUN_BYTES).toBe(268_435_456);
    expect(rowsPerRun(1000, RUN_BYTES)).toBe(33_554);
    expect(rowsPerRun(1000)).toBe(33_554);
    expect(rowsPerRun(9_500)).toBe(3_532);
    // Room for exactly 3 rows, and for 3 rows and 7 bytes more.
    expect(rowsPerRun(100, 2_400)).toBe(3);
    expect(rowsPerRun(100, 2_407)).toBe(3);
    expect(rowsPerRun(100, 2_399)).toBe(2);
  });

  it('gives at least 1, for a budget below one row and for a graph without inputs', () => {
    expect(rowsPerRun(1000, 1)).toBe(1);
    expect(rowsPerRun(2 ** 40)).toBe(1);
    expect(rowsPerRun(0, 80)).toBe(10);
  });
});

describe('checkRunBytes', () => {
  it('takes a positive integer or nothing', () => {
    for (const runBytes of [undefined, 1, RUN_BYTES, Number.MAX_SAFE_INTEGER]) expect(() => checkRunBytes(runBytes)).not.toThrow();
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, '1024', null])('refuses %o, naming the option', (runBytes) => {
    expect(() => checkRunBytes(runBytes)).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_OPTIONS',
        message: expect.stringMatching(
          /^runBytes must be an integer of at least 1 \(bytes one run may make in tensors\), or absent for 256 MiB, got /,
        ),
      }),
    );
  });
});

describe('partsOf', () => {
  it('cuts a batch into views of at most rowsPerRun rows, the last one shorter, naming where each starts', () => {
    const batch: FeatureMatrix = { rows: 5, cols: 2, data: Float32Array.from({ length: 10 }, (_, i) => i) };
    const parts = [...partsOf(batch, 2)];
    expect(parts.map(({ part, startRow }) => [startRow, part.rows, [...part.data]])).toEqual([
      [0, 2, [0, 1, 2, 3]],
      [2, 2, [4, 5, 6, 7]],
      [4, 1, [8, 9]],
    ]);
    expect(parts[1]!.part.data.buffer).toBe(batch.data.buffer);
    expect([...partsOf(batch, 8)].map(({ part }) => part.rows)).toEqual([5]);
  });
});

describe('runInParts', () => {
  // 7 rows of 2 features: row r holds r and -r.
  const batch: FeatureMatrix = {
    rows: 7,
    cols: 2,
    data: Float32Array.from({ length: 14 }, (_, i) => (i % 2 ? -1 : 1) * Math.floor(i / 2)),
  };
  const answer = async (part: FeatureMatrix) => ({
    sums: Float32Array.from({ length: part.rows * 2 }, (_, i) => part.data[i]! * 10),
    labels: BigInt64Array.from({ length: part.rows }, (_, r) => BigInt(part.data[r * 2]!)),
    counts: Int32Array.from({ length: part.rows }, () => part.rows),
  });

  it('runs rows in parts of at most rowsPerRun, in order, and joins each output as one run gives it', async () => {
    const parts: [number, number[]][] = [];
    const joined = await runInParts(batch, 3, async (part, startRow) => {
      parts.push([startRow, [...part.data]]);
      return answer(part);
    });
    expect(parts).toEqual([
      [0, [0, -0, 1, -1, 2, -2]],
      [3, [3, -3, 4, -4, 5, -5]],
      [6, [6, -6]],
    ]);
    const whole = await answer(batch);
    expect(joined.sums).toEqual(whole.sums);
    expect(joined.labels).toEqual(BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n, 6n]));
    expect(joined.counts).toEqual(Int32Array.from([3, 3, 3, 3, 3, 3, 1]));
  });

  it('runs a batch that fits in one run whole and gives its outputs uncopied', async () => {
    let given: Awaited<ReturnType<typeof answer>> | undefined;
    const joined = await runInParts(batch, 7, async (part, startRow) => {
      expect([part, startRow]).toEqual([batch, 0]);
      given = await answer(part);
      return given;
    });
    expect(joined).toBe(given);
  });

  it('fails with the first part that fails, running no part after it', async () => {
    const started: number[] = [];
    const failing = runInParts(batch, 2, async (part, startRow) => {
      started.push(startRow);
      if (startRow === 2) throw new Error(`row ${startRow} broke`);
      return answer(part);
    });
    await expect(failing).rejects.toThrow('row 2 broke');
    expect(started).toEqual([0, 2]);
  });
});
