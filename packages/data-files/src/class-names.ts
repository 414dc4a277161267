import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { badData, unreadableFile } from './file-errors.js';
import { fileSize } from './file-size.js';
import { decodeTextFile, forEachLineOfText } from './text-lines.js';

const EXPECTED = 'a .json file or a text file with one class name per line';

/** How a caller names a class-names file in messages. */
export interface ClassNamesLabels {
  /** E.g. `--class-names names.txt`; default: the path. */
  readonly what?: string;
}

/**
 * The `classNames` option as a list: an array as given, or a file (a JSON array of strings when it ends in
 * .json, else one name per line). Order matters: a class's index is its position. `hyperproto export
 * --class-names` reads its file here too, so that a file gives the same names, or the same refusal, to both.
 */
export async function readClassNames(
  option: string | readonly string[] | undefined,
  labels: ClassNamesLabels = {},
): Promise<{ names: readonly string[]; source: string } | undefined> {
  if (option === undefined) return undefined;
  if (typeof option !== 'string')
    return {
      names: checkNames(
        option.map((name) => name.trim()),
        'classNames',
        (i) => `classNames[${i}]`,
      ),
      source: 'classNames',
    };
  const path = option;
  const what = labels.what ?? path;
  // A pipe or a device would hang the read or never end it: refused before reading.
  await fileSize(path, EXPECTED, what);
  let bytes: Buffer;
  try {
    // A list of names is small (a few MB at 100,000 classes): reading it whole is fine.
    bytes = await readFile(path);
  } catch (error) {
    throw unreadableFile(what, error);
  }
  const text = decodeTextFile(bytes, path);
  if (path.toLowerCase().endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw badData(`${what} is not valid JSON (${(error as Error).message}); write the class names as a JSON array of strings`);
    }
    if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) {
      throw badData(`${what} must hold a JSON array of strings (the class names in index order)`);
    }
    return {
      names: checkNames(
        value.map((name: string) => name.trim()),
        what,
        (i) => `${what} item ${i + 1}`,
      ),
      source: path,
    };
  }
  const lines: string[] = [];
  forEachLineOfText(text, path, (line) => lines.push(line));
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  // The file's name, not its content, says how it is read; a JSON array read as lines would give classes named `[`.
  const firstName = lines.find((line) => line.trim() !== '')?.trim();
  let hint: string | undefined;
  if (firstName?.startsWith('[')) {
    const asJson = `${path.slice(0, path.length - extname(path).length)}.json`;
    if (firstName === '[' || isJsonArray(lines.join('\n')))
      throw badData(
        `${what} looks like a JSON array, but only a file whose name ends in .json is read as JSON, and this one would be read as one class name per line; rename it to ${asJson}, or write one class name per line`,
      );
    // Names such as `[0,10)` are fine; only if the names are refused might the file be JSON.
    hint = `${what} starts with "[" as a JSON array does, but is read as one class name per line: if it is a JSON array, rename it to ${asJson}.`;
  }
  return {
    names: checkNames(
      lines.map((line) => line.trim()),
      what,
      (i) => `${what} line ${i + 1}`,
      hint,
    ),
    source: path,
  };
}

function isJsonArray(text: string): boolean {
  try {
    return Array.isArray(JSON.parse(text));
  } catch {
    return false;
  }
}

function checkNames(names: string[], list: string, where: (index: number) => string, hint?: string): string[] {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name === '') throw badData(`${where(i)}: the class name is empty; give every class a name`, hint);
    const first = seen.get(name);
    if (first !== undefined)
      throw badData(`${where(i)}: class name ${JSON.stringify(name)} repeats ${where(first)}; class names must be distinct`, hint);
    seen.set(name, i);
  });
  if (names.length < 2)
    throw badData(`${list} lists ${names.length} class name${names.length === 1 ? '' : 's'}; a classifier needs at least 2`, hint);
  return names;
}
