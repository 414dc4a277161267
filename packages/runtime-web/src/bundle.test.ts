import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url);
const built = existsSync(new URL('vendor/model-contract/index.js', dist));

// The build (`pnpm build`) ships the model contract inside dist/, so that a page without a bundler maps only
// onnxruntime-web in its import map, as apps/web does.
describe.skipIf(!built)('the built package', () => {
  it('imports nothing but its own files and onnxruntime-web', () => {
    const files = readdirSync(dist, { recursive: true })
      .map(String)
      .filter((file) => file.endsWith('.js'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'contract.js', 'vendor/model-contract/index.js']));
    for (const file of files) {
      const code = readFileSync(new URL(file, dist), 'utf8');
      const specifiers = [...code.matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
      expect(
        specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../') && s !== 'onnxruntime-web'),
        file,
      ).toEqual([]);
    }
  });
});
