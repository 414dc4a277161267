import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { isHyperprotoError, type DatasetInput } from '@hyperproto/core';
import { openInputFile } from '@hyperproto/npy';
import { unreadableFile } from './file-errors.js';
import { optionName, type FilesOptions } from './files-options.js';
import type { WorkPacer } from './work-pacer.js';

/** Every option that names a file, in the order the loader reads them. */
const FILE_OPTIONS = ['data', 'labels', 'validationData', 'validationLabels', 'testData', 'testLabels', 'classNames'] as const;

// Large enough that hashing runs near memory speed, small enough to stay out of the way of the data being loaded.
const CHUNK_BYTES = 4 * 2 ** 20;

/** The files the options name, as `{ option, path }` with the path as given: what the loader reads. */
export function inputFiles(options: FilesOptions): { option: string; path: string }[] {
  const files: { option: string; path: string }[] = [];
  for (const option of FILE_OPTIONS) {
    const path = options[option];
    // An inline list of class names is no file.
    if (typeof path === 'string') files.push({ option, path });
  }
  return files;
}

/**
 * Every file the options name, fingerprinted: absolute path (relative ones start at the current directory, as
 * the loader reads them), size and SHA-256 of what is in it now.
 */
export async function fingerprintInputs(options: FilesOptions, pacer?: WorkPacer): Promise<DatasetInput[]> {
  const inputs: DatasetInput[] = [];
  for (const { option, path } of inputFiles(options)) inputs.push(await fingerprintFile(option, path, pacer));
  return inputs;
}

/** One file's fingerprint, read in chunks (a pipe or device is refused by `openInputFile`, as when loading). */
export async function fingerprintFile(option: string, path: string, pacer?: WorkPacer): Promise<DatasetInput> {
  const { handle } = await openInputFile(path);
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, bytes);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      if (pacer?.due()) await pacer.pause();
    }
    return { option, path: resolve(path), bytes, sha256: hash.digest('hex') };
  } catch (error) {
    throw isHyperprotoError(error) ? error : unreadableFile(path, error);
  } finally {
    await handle.close();
  }
}

/**
 * A warning when a held-out features file (validationData, testData) holds the very bytes of `data`, by the same
 * path or another (a link, a copy), else undefined: its scores would be of rows the model trained on. Compares the
 * fingerprints already made, reading nothing.
 */
export function heldOutIsDataWarning(inputs: readonly DatasetInput[], options: FilesOptions): string | undefined {
  const data = fingerprintOf(inputs, 'data');
  if (!data) return undefined;
  const same = (['validationData', 'testData'] as const).filter((option) => sameBytes(fingerprintOf(inputs, option), data));
  if (same.length === 0) return undefined;
  const one = same.length === 1;
  const how = same.every((option) => fingerprintOf(inputs, option)!.path === data.path)
    ? `${one ? 'is' : 'are'} the same file as`
    : `${one ? 'holds' : 'hold'} the same bytes (sha256 ${data.sha256.slice(0, 12)}...) as`;
  // Named as given, as every other message names files.
  const files = same.map((option) => `${option} ${options[option]}`).join(' and ');
  const splits = same.map((option) => option.replace('Data', ''));
  const flags = optionName(...splits.flatMap((split) => [`${split}Data`, `${split}Labels`]));
  const fractions = splits.map((split) => `${split}Fraction`).join(' and ');
  return `warning: ${files} ${how} data ${options.data}: the ${splits.join(' and ')} scores are then of rows the model trained on, which say nothing of new data; give rows kept out of training, or leave out ${flags} to hold out ${fractions} of data instead`;
}

/**
 * A warning when the validation and test features files hold the same bytes (the same path or another), else
 * undefined: the test scores are then of the rows that chose the model (its best epoch, a grid's best run), not of
 * rows held out from that choice. Nothing when both are `data` as well: {@link heldOutIsDataWarning} says more.
 */
export function validationIsTestWarning(inputs: readonly DatasetInput[], options: FilesOptions): string | undefined {
  const validation = fingerprintOf(inputs, 'validationData');
  const test = fingerprintOf(inputs, 'testData');
  if (!validation || !test || !sameBytes(test, validation) || sameBytes(fingerprintOf(inputs, 'data'), validation)) return undefined;
  const how = test.path === validation.path ? 'is the same file as' : `holds the same bytes (sha256 ${test.sha256.slice(0, 12)}...) as`;
  return `warning: testData ${options.testData} ${how} validationData ${options.validationData}: the validation and test splits are the same rows, so the test scores are of the rows that chose the model (its best epoch, a grid's best run) and are not held out from that choice; give test rows kept out of both training and validation, or leave out ${optionName('testData', 'testLabels')} to hold out testFraction of data instead`;
}

function fingerprintOf(inputs: readonly DatasetInput[], option: string): DatasetInput | undefined {
  return inputs.find((input) => input.option === option);
}

/** Whether two fingerprints are of the same content: same size and SHA-256, whatever the paths. */
function sameBytes(a: DatasetInput | undefined, b: DatasetInput): boolean {
  return a !== undefined && a.bytes === b.bytes && a.sha256 === b.sha256;
}
