import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { gitProvenance } from './git-provenance.js';
import { runGrid } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import { validationScore } from './validation-score.js';

const registryModule = fileURLToPath(new URL('./test-support/fake-registry-module.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-provenance-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const git = (args: string[], cwd: string) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf8' });

describe('record provenance', () => {
  it('names every plugin a run used with its package and version, and the commit of the code that ran', async () => {
    const grid = parseGrid({
      name: 'provenance',
      seeds: 1,
      datasets: [{ id: 'c4', name: 'blobs', options: { classes: 4 } }],
      models: [{ id: 'axes-4', head: 'hpn', prototypes: { strategy: 'axes', dims: 4 } }],
    });
    const out = join(scratch, 'results');
    await runGrid({ grid, out, registryModule, inline: true });
    const [record] = parseResults(readFileSync(join(out, RESULTS_FILE)), 'results').records;
    expect(record!.plugins).toEqual([
      { kind: 'dataset', name: 'blobs', package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' },
      { kind: 'prototypes', name: 'axes', package: 'fake-axes', version: '2.3.4', source: './fake-axes' },
      { kind: 'head', name: 'hpn', package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' },
      { kind: 'engine', name: 'fake', package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' },
      { kind: 'evaluator', name: 'classification', package: '@hyperproto/fake-plugins', version: '0.0.0', source: 'builtin' },
    ]);
    // The registry module lives in this repository's checkout: its commit, dirty as `git status` says.
    const head = git(['rev-parse', 'HEAD'], repoRoot).trim();
    const dirty = git(['status', '--porcelain'], repoRoot).trim().length > 0;
    expect(record!.git).toEqual({ commit: head, dirty });
  });

  it('reads the commit and dirty flag of a checkout, and null outside one', async () => {
    const outside = join(scratch, 'outside');
    execFileSync('mkdir', ['-p', outside]);
    writeFileSync(join(outside, 'package.json'), '{}');
    expect(await gitProvenance(join(outside, 'index.js'))).toBeNull();

    const repo = join(scratch, 'repo');
    execFileSync('mkdir', ['-p', repo]);
    git(['init', '-q'], repo);
    writeFileSync(join(repo, 'package.json'), '{}');
    writeFileSync(join(repo, 'index.js'), '');
    git(['add', '.'], repo);
    git(['commit', '-q', '-m', 'first'], repo);
    const commit = git(['rev-parse', 'HEAD'], repo).trim();
    expect(await gitProvenance(join(repo, 'index.js'))).toEqual({ commit, dirty: false });
    writeFileSync(join(repo, 'index.js'), '// changed');
    expect(await gitProvenance(join(repo, 'index.js'))).toEqual({ commit, dirty: true });

    // A package installed into the checkout's (ignored) node_modules is not the checkout's code.
    writeFileSync(join(repo, '.gitignore'), 'node_modules/\n');
    execFileSync('mkdir', ['-p', join(repo, 'node_modules', 'dep')]);
    writeFileSync(join(repo, 'node_modules', 'dep', 'package.json'), '{}');
    expect(await gitProvenance(join(repo, 'node_modules', 'dep', 'index.js'))).toBeNull();
  });

  it('keeps the committed records of the seed study readable: the new fields are optional', () => {
    const file = join(repoRoot, 'docs/results/seed/results.jsonl');
    const { records, torn } = parseResults(readFileSync(file), file);
    expect(torn).toBeUndefined();
    expect(records).toHaveLength(150);
    for (const record of records) {
      expect(record.plugins).toBeUndefined();
      expect(record.git).toBeUndefined();
      expect(validationScore(record).accuracy).toBe(record.history[record.bestEpoch - 1]!.validationAccuracy);
    }
  });
});
