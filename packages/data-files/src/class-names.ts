import { readFile } from 'node:fs/promises';
import { badData, unreadableFile } from './file-errors.js';
import { fileSize } from './file-size.js';
import { decodeTextFile, forEachLineOfText } from './text-lines.js';

/**
 * The `classNames` option as a list: an array as given, or a file (a JSON array of strings when it ends in
 * .json, else one name per line). Order matters: a class's index is its position.
 */
export async function readClassNames(
  option: string | readonly string[] | undefined,
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
  // A pipe or a device would hang the read or never end it: refused before reading.
  await fileSize(path, 'a .json file or a text file with one class name per line');
  let bytes: Buffer;
  try {
    // A list of names is small (a few MB at 100,000 classes): reading it whole is fine.
    bytes = await readFile(path);
  } catch (error) {
    throw unreadableFile(path, error);
  }
  const text = decodeTextFile(bytes, path);
  if (path.toLowerCase().endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw badData(`${path} is not valid JSON (${(error as Error).message}); write the class names as a JSON array of strings`);
    }
    if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) {
      throw badData(`${path} must hold a JSON array of strings (the class names in index order)`);
    }
    return {
      names: checkNames(
        value.map((name: string) => name.trim()),
        path,
        (i) => `${path} item ${i + 1}`,
      ),
      source: path,
    };
  }
  const lines: string[] = [];
  forEachLineOfText(text, path, (line) => lines.push(line));
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  return {
    names: checkNames(
      lines.map((line) => line.trim()),
      path,
      (i) => `${path} line ${i + 1}`,
    ),
    source: path,
  };
}

function checkNames(names: string[], list: string, where: (index: number) => string): string[] {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    if (name === '') throw badData(`${where(i)}: the class name is empty; give every class a name`);
    const first = seen.get(name);
    if (first !== undefined)
      throw badData(`${where(i)}: class name ${JSON.stringify(name)} repeats ${where(first)}; class names must be distinct`);
    seen.set(name, i);
  });
  if (names.length < 2)
    throw badData(`${list} lists ${names.length} class name${names.length === 1 ? '' : 's'}; a classifier needs at least 2`);
  return names;
}
