import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, resolveOptions, type Dataset } from '@hyperproto/core';
import { filesDataset } from '../files-dataset.js';
import type { FilesOptionsInput } from '../files-options.js';

/** A temporary directory per test; `path(name)` names a file in it. */
export async function tempDir(): Promise<{ dir: string; path: (name: string) => string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hyperproto-data-files-'));
  return { dir, path: (name) => join(dir, name), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Validates the options as the CLI would, then loads the dataset with a seeded context. */
export async function load(
  options: FilesOptionsInput,
  seed = 1,
  extra: { signal?: AbortSignal; progress?: (done: number, total: number) => void; log?: (message: string) => void } = {},
): Promise<Dataset> {
  return filesDataset.generate({ seed, rng: createRng(seed), ...extra }, resolveOptions(filesDataset, options));
}

/** Loads the dataset and returns what it told the user through ctx.log. */
export async function warnings(options: FilesOptionsInput): Promise<string[]> {
  const said: string[] = [];
  await load(options, 1, { log: (message) => said.push(message) });
  return said;
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a failure');
}

type NpyValues = readonly number[] | readonly bigint[] | readonly string[];

/**
 * A .npy file as numpy's np.save writes it (format 1.0, header padded to 64 bytes), for any of the dtypes the
 * tests need: '<f4', '>f8', '<i8', '|u1', '|b1', '<U5', '|S3', ...
 */
export function npyBytes(descr: string, shape: readonly number[], values: NpyValues, fortranOrder = false): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  header += `${' '.repeat(64 - ((10 + header.length + 1) % 64))}\n`;
  const match = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr)!;
  const littleEndian = match[1] !== '>';
  const kind = match[2]!;
  const size = kind === 'U' ? 4 * Number(match[3]) : Number(match[3]);
  const data = Buffer.alloc(values.length * size);
  values.forEach((value, i) => {
    const at = i * size;
    if (kind === 'f') {
      if (size === 4) littleEndian ? data.writeFloatLE(value as number, at) : data.writeFloatBE(value as number, at);
      else littleEndian ? data.writeDoubleLE(value as number, at) : data.writeDoubleBE(value as number, at);
    } else if (kind === 'i' || kind === 'u' || kind === 'b') {
      const big = BigInt(value as number | bigint);
      if (size === 8) kind === 'i' ? data.writeBigInt64LE(big, at) : data.writeBigUInt64LE(big, at);
      else if (size === 4) kind === 'i' ? data.writeInt32LE(Number(big), at) : data.writeUInt32LE(Number(big), at);
      else if (size === 2) kind === 'i' ? data.writeInt16LE(Number(big), at) : data.writeUInt16LE(Number(big), at);
      else kind === 'i' ? data.writeInt8(Number(big), at) : data.writeUInt8(Number(big), at);
    } else if (kind === 'U') {
      [...(value as string)].forEach((char, k) => data.writeUInt32LE(char.codePointAt(0)!, at + 4 * k));
    } else {
      data.write(value as string, at, 'latin1');
    }
  });
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), data]);
}

export async function writeNpy(
  path: string,
  descr: string,
  shape: readonly number[],
  values: NpyValues,
  fortranOrder = false,
): Promise<string> {
  await writeFile(path, npyBytes(descr, shape, values, fortranOrder));
  return path;
}

export async function writeText(path: string, text: string): Promise<string> {
  await writeFile(path, text);
  return path;
}

/** `classes` clusters of `perClass` rows each, rows of class c filled with c + row / 1000, labels interleaved. */
export function clusteredRows(classes: number, perClass: number, width: number): { rows: number[][]; labels: number[] } {
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < classes * perClass; i++) {
    const label = i % classes;
    rows.push(Array.from({ length: width }, (_, k) => label + i / 1000 + k / 10));
    labels.push(label);
  }
  return { rows, labels };
}

/** Rows of every split, as arrays, with their labels: to compare datasets and find rows again. */
export function splitRows(dataset: Dataset, split: 'train' | 'validation' | 'test'): { row: number[]; label: number }[] {
  const { features, labels } = dataset[split];
  return Array.from(labels, (label, i) => ({ row: Array.from(features.data.subarray(i * features.cols, (i + 1) * features.cols)), label }));
}

/** A quick reproducible label generator for tests with uneven classes. */
export function unevenLabels(seed: number, counts: readonly number[]): number[] {
  const labels = counts.flatMap((count, c) => new Array<number>(count).fill(c));
  return createRng(seed).shuffle(labels);
}
