// The fake registry plus a dataset whose class count only its data says, as the files dataset's without classNames:
// `describe` knows it only from a list of class names, `inspect` reads the labels file as `generate` does.
import { readFile } from 'node:fs/promises';
import { createMatrix, createRegistry, defineDataset, ErrorCode, HyperprotoError, z } from '@hyperproto/core';
import type { BuiltRegistry } from '../registry-module.js';
import { buildRegistry as buildFakeRegistry } from './fake-registry.js';

export { versions } from './fake-registry.js';

/** The distinct labels of the file (one a line): its classes, in first-seen order. */
async function readClasses(file: string): Promise<string[]> {
  const classes = [...new Set((await readFile(file, 'utf8')).split('\n').filter(Boolean))];
  if (classes.length < 2) throw new HyperprotoError(ErrorCode.InvalidInput, `${file} holds a single class; a classifier needs at least 2`);
  return classes;
}

const labelled = defineDataset({
  name: 'labelled',
  summary: 'classes read from a labels file, for tests',
  options: z.strictObject({ labels: z.string(), classNames: z.array(z.string()).optional() }),
  describe: ({ classNames }) => (classNames ? { classes: classNames.length } : {}),
  inspect: async ({ labels, classNames }) => ({ classes: classNames?.length ?? (await readClasses(labels)).length }),
  async generate(ctx, { labels, classNames }) {
    const classes = classNames?.length ?? (await readClasses(labels)).length;
    const split = () => {
      const rows = new Int32Array(classes * 2).map((_, i) => i % classes);
      const features = createMatrix(rows.length, 2);
      ctx.rng.fillNormal(features.data);
      return { features, labels: rows };
    };
    return { classes, inputWidth: 2, train: split(), validation: split(), test: split(), info: {} };
  },
});

export function buildRegistry(): BuiltRegistry {
  const registry = createRegistry([labelled, ...buildFakeRegistry().list()]);
  const plugins = registry
    .list()
    .map(({ kind, name }) => ({ kind, name, package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' }));
  return { registry, plugins };
}
