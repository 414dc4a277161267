import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const src = new URL('./', import.meta.url);
const shipped = readdirSync(src, { recursive: true })
  .map(String)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith('test-support'));

describe('the package', () => {
  it('imports nothing but its own modules, so that it runs in a browser', () => {
    expect(shipped.length).toBeGreaterThan(5);
    for (const file of shipped) {
      const specifiers = [...readFileSync(new URL(file, src), 'utf8').matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'/g)].map(
        (m) => m[1] ?? m[2],
      );
      expect(
        specifiers.filter((s) => !s!.startsWith('./')),
        file,
      ).toEqual([]);
    }
  });

  it('has no dependencies (test tools aside)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect([pkg.dependencies, pkg.peerDependencies, pkg.optionalDependencies]).toEqual([undefined, undefined, undefined]);
    expect(pkg.sideEffects).toBe(false);
  });
});
