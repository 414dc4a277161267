import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coreVersion } from './run-cli.js';

/** What a plugin package declares to run on this CLI: a peer dependency on the core it runs. */
export const peerOnCore = (): Record<string, string> => ({ '@hyperproto/core': `^${coreVersion}` });

/**
 * The source of a third-party prototype strategy `name`, as a plain ES module: the signed unit axes +e0, -e0, +e1,
 * ..., which need dims >= classes / 2 (refused otherwise).
 */
export function axesStrategyModule(name: string): string {
  return `import { definePrototypeStrategy, createMatrix, z } from '@hyperproto/core';
export default definePrototypeStrategy({
  name: '${name}',
  summary: 'signed unit axes: +e1, -e1, +e2, ...',
  options: z.object({}).strict(),
  unsupported: ({ classes, dims }) => (classes > 2 * dims ? 'needs dims >= classes / 2' : undefined),
  generate: (_ctx, { classes, dims }) => {
    const m = createMatrix(classes, dims);
    for (let i = 0; i < classes; i++) m.data[i * dims + (i >> 1)] = i % 2 ? -1 : 1;
    return m;
  },
});
`;
}

/** Writes a plugin package in `dir`: package.json (an ES module exporting ./index.js, plus `fields`) and index.js. */
export function writePluginPackage(dir: string, fields: object, index: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', exports: './index.js', ...fields }));
  writeFileSync(join(dir, 'index.js'), index);
}
