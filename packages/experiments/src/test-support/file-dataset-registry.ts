// The fake registry plus a dataset read from a file, fingerprinted as a file-reading dataset must: its `inputs`
// hook hashes the file, and `generate` records the same list as `info.inputs`.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createMatrix, createRegistry, defineDataset, type DatasetInput, z } from '@hyperproto/core';
import type { BuiltRegistry } from '../registry-module.js';
import { buildRegistry as buildFakeRegistry } from './fake-registry.js';

export { versions } from './fake-registry.js';

async function fingerprint(file: string): Promise<DatasetInput[]> {
  const bytes = await readFile(file);
  return [{ option: 'file', path: resolve(file), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }];
}

/** The file holds the class count; every split has two rows per class. */
const counted = defineDataset({
  name: 'counted',
  summary: 'a class count read from a file, for tests',
  options: z.strictObject({ file: z.string() }),
  inputs: ({ file }) => fingerprint(file),
  async generate(ctx, { file }) {
    const classes = Number((await readFile(file, 'utf8')).trim());
    const split = () => {
      const labels = new Int32Array(classes * 2).map((_, i) => i % classes);
      const features = createMatrix(labels.length, 2);
      ctx.rng.fillNormal(features.data);
      return { features, labels };
    };
    return { classes, inputWidth: 2, train: split(), validation: split(), test: split(), info: { inputs: await fingerprint(file) } };
  },
});

export function buildRegistry(): BuiltRegistry {
  const fake = buildFakeRegistry();
  const registry = createRegistry([counted, ...fake.list()]);
  const plugins = registry
    .list()
    .map(({ kind, name }) => ({ kind, name, package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' }));
  return { registry, plugins };
}
