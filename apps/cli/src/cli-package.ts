import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** This CLI's installed package directory and its own package.json (the version `--version` prints). */
export const cliRoot = fileURLToPath(new URL('..', import.meta.url));

export const cliPackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
};
