// The fake registry as an application would hand it over: with each plugin's origin and a run-directory writer.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentOutcome } from '@hyperproto/core';
import type { BuiltRegistry } from '../registry-module.js';
import { buildRegistry as buildFakeRegistry } from './fake-registry.js';

export { versions } from './fake-registry.js';

/** The axes strategy plays a third-party package; the rest are "built in". */
export function buildRegistry(): BuiltRegistry {
  const registry = buildFakeRegistry();
  const plugins = registry
    .list()
    .map(({ kind, name }) =>
      kind === 'prototypes'
        ? { kind, name, package: 'fake-axes', version: '2.3.4', source: './fake-axes' }
        : { kind, name, package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' },
    );
  return { registry, plugins };
}

/** Writes what a test can check: the run's seed, kept epoch and where it was told the directory will end up. */
export async function writeRunDirectory(dir: string, outcome: ExperimentOutcome, target: string): Promise<void> {
  if (process.env.FAKE_WRITE_FAIL_SEED !== undefined && Number(process.env.FAKE_WRITE_FAIL_SEED) === outcome.spec.seed)
    throw new Error('disk full');
  await writeFile(join(dir, 'run.json'), JSON.stringify({ seed: outcome.spec.seed, bestEpoch: outcome.training.bestEpoch, target }));
}
