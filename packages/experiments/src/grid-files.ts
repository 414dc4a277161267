import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { parseGrid, type Grid } from './grid-schema.js';

/** The presets ship as data beside the compiled code: `presets/<name>.json`. */
export const PRESETS_DIR = fileURLToPath(new URL('../presets/', import.meta.url));

/** Names of the shipped presets: the JSON files directly in presets/ (shared data such as published tables lives in subfolders). */
export function presetNames(): string[] {
  return readdirSync(PRESETS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => entry.name.slice(0, -'.json'.length))
    .sort();
}

export function presetPath(name: string): string {
  const names = presetNames();
  if (!names.includes(name)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `unknown preset "${name}". Known: ${names.join(', ')}.`, {
      hint: 'Or write a grid file in the same form and pass it with --grid FILE.',
    });
  }
  return resolve(PRESETS_DIR, `${name}.json`);
}

export async function loadPreset(name: string): Promise<Grid> {
  return loadGridFile(presetPath(name));
}

/**
 * Reads and validates a grid file. `"published": "file.json"` is read relative to the grid file and inlined, so
 * the grid stored with the results is complete on its own.
 */
export async function loadGridFile(path: string): Promise<Grid> {
  const raw = await readJson(path, 'grid file');
  if (typeof raw === 'object' && raw !== null && typeof (raw as { published?: unknown }).published === 'string') {
    const publishedPath = resolve(dirname(path), (raw as { published: string }).published);
    (raw as { published: unknown }).published = await readJson(publishedPath, `${path} published`);
  }
  return parseGrid(raw, path);
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `${what} ${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
