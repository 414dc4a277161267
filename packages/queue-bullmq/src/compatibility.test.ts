import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import type { PluginOrigin, RunVersions } from '@hyperproto/experiments';
import { incompatibility, type CodeOnHand, type Requirements } from './compatibility.js';

const origin = (kind: string, name: string, pkg: string | null, version: string | null, source = 'builtin'): PluginOrigin => ({
  kind,
  name,
  package: pkg,
  version,
  source,
});
const versions = (hyperproto: Record<string, string>, other: Record<string, string> = {}): RunVersions => ({
  node: process.version,
  hyperproto,
  tfjs: null,
  other,
});

const needs: Requirements = {
  plugins: [
    origin('dataset', 'gaussian', '@hyperproto/data-gaussian', '0.1.0'),
    origin('prototypes', 'axes', 'my-axes', '1.2.0', './my-axes'),
    origin('head', 'hpn', '@hyperproto/head-hpn', '0.1.0'),
  ],
  versions: { '@hyperproto/core': '0.1.0', 'onnxruntime-node': '1.30.0' },
};
const worker = (
  plugins: PluginOrigin[],
  hyperproto: Record<string, string> = { '@hyperproto/core': '0.1.0' },
  other: Record<string, string> = { 'onnxruntime-node': '1.30.0' },
): CodeOnHand => ({
  registered: new Set(plugins.map((p) => `${p.kind}:${p.name}`)),
  plugins,
  versions: versions(hyperproto, other),
});

describe('incompatibility', () => {
  it('accepts a worker with the same plugins and versions', () => {
    expect(incompatibility('seed', needs, worker([...needs.plugins]))).toBeUndefined();
  });

  it('names the plugin a worker lacks, the grid, and where the coordinator got it', () => {
    const problem = incompatibility('seed', needs, worker([needs.plugins[0]!, needs.plugins[2]!]));
    expect(problem?.code).toBe(ErrorCode.UnknownPlugin);
    expect(problem?.message).toBe(
      'this worker has no prototypes plugin "axes", which grid "seed" needs (the coordinator\'s comes from my-axes 1.2.0, loaded by ./my-axes)',
    );
    expect(problem?.hint).toMatch(/--plugin \.\/my-axes/);
  });

  it('names both versions of a plugin package or library that differ', () => {
    const older = [needs.plugins[0]!, origin('prototypes', 'axes', 'my-axes', '1.1.0', './my-axes'), needs.plugins[2]!];
    const problem = incompatibility('seed', needs, worker(older, { '@hyperproto/core': '0.2.0' }, {}));
    expect(problem?.code).toBe(ErrorCode.Unsupported);
    expect(problem?.message).toContain(
      'plugin prototypes:axes is my-axes 1.1.0, loaded by ./my-axes on this worker but my-axes 1.2.0, loaded by ./my-axes on the coordinator',
    );
    expect(problem?.message).toContain('@hyperproto/core is version 0.2.0 on this worker but version 0.1.0 on the coordinator');
    expect(problem?.message).toContain('onnxruntime-node is missing on this worker but version 1.30.0 on the coordinator');
  });

  it('asks for a copy of a plugin the coordinator loaded from a module file, and refuses one from a package instead', () => {
    const fileNeeds: Requirements = { plugins: [origin('prototypes', 'axes', null, null, './pl/axes.mjs')], versions: {} };
    const lacking = incompatibility('seed', fileNeeds, worker([]));
    expect(lacking?.message).toBe(
      'this worker has no prototypes plugin "axes", which grid "seed" needs (the coordinator\'s comes from a module file, loaded by ./pl/axes.mjs)',
    );
    expect(lacking?.hint).toBe(
      "Copy the coordinator's plugin file (./pl/axes.mjs, as the coordinator named it) to this machine and start the worker with --plugin and the path of that copy (its content must be the same: the worker compares SHA-256).",
    );
    // A copy elsewhere passes when its content is the same; an edited copy is refused, naming both digests.
    const copy = (sha256: string) => ({ ...origin('prototypes', 'axes', null, null, '/other/path/axes.mjs'), sha256 });
    const digested: Requirements = { plugins: [{ ...fileNeeds.plugins[0]!, sha256: 'a'.repeat(64) }], versions: {} };
    expect(incompatibility('seed', digested, worker([copy('a'.repeat(64))], {}, {}))).toBeUndefined();
    const edited = incompatibility('seed', digested, worker([copy('b'.repeat(64))], {}, {}));
    expect(edited?.code).toBe(ErrorCode.Unsupported);
    expect(edited?.message).toContain(
      'plugin prototypes:axes is a module file (sha256 bbbbbbbbbbbb), loaded by /other/path/axes.mjs on this worker but a module file (sha256 aaaaaaaaaaaa), loaded by ./pl/axes.mjs on the coordinator',
    );
    // A coordinator of an earlier version sends no digest: kind and name are all there is to compare.
    expect(incompatibility('seed', fileNeeds, worker([copy('b'.repeat(64))], {}, {}))).toBeUndefined();
    const packaged = incompatibility('seed', fileNeeds, worker([origin('prototypes', 'axes', 'my-axes', '1.2.0', 'my-axes')], {}, {}));
    expect(packaged?.code).toBe(ErrorCode.Unsupported);
    expect(packaged?.message).toContain(
      'plugin prototypes:axes is my-axes 1.2.0, loaded by my-axes on this worker but a module file, loaded by ./pl/axes.mjs on the coordinator',
    );
  });
});
