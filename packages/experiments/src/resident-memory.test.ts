import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResidentMemorySampler } from './resident-memory.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('ResidentMemorySampler', () => {
  it('keeps per run the largest resident set seen from its start to its end, and the most runs watched at once', () => {
    vi.useFakeTimers();
    let resident = 100;
    const sampler = new ResidentMemorySampler(100, () => resident);
    expect(sampler.sampling).toBe(false);
    const first = sampler.watch();
    expect(sampler.sampling).toBe(true);
    resident = 300;
    vi.advanceTimersByTime(100);
    resident = 200;
    const second = sampler.watch();
    resident = 150;
    vi.advanceTimersByTime(100);
    resident = 120;
    const firstMemory = { peakResidentBytes: 300, startResidentBytes: 100, concurrentRuns: 2, sampleMilliseconds: 100 };
    expect(first.end()).toEqual(firstMemory);
    // Sampled after the first run ended: only the second sees it, and the first keeps what it ended with.
    resident = 500;
    vi.advanceTimersByTime(100);
    expect(first.end()).toEqual(firstMemory);
    resident = 50;
    expect(second.end()).toEqual({ peakResidentBytes: 500, startResidentBytes: 200, concurrentRuns: 2, sampleMilliseconds: 100 });
    expect(sampler.sampling).toBe(false);

    // Alone, and with a peak that only the sample at its end sees.
    resident = 400;
    const third = sampler.watch();
    resident = 900;
    expect(third.end()).toEqual({ peakResidentBytes: 900, startResidentBytes: 400, concurrentRuns: 1, sampleMilliseconds: 100 });
    expect(sampler.sampling).toBe(false);
  });

  it('never keeps the process alive, even with a run that never ends', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-memory-'));
    try {
      // Plain Node runs the module: transpiled (its only import is a type).
      const ts = (await import('typescript')).default;
      const source = readFileSync(fileURLToPath(new URL('./resident-memory.ts', import.meta.url)), 'utf8');
      const module = join(scratch, 'resident-memory.mjs');
      writeFileSync(
        module,
        ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText,
      );
      const script = `import { ResidentMemorySampler } from ${JSON.stringify(pathToFileURL(module).href)};
const sampler = new ResidentMemorySampler(10);
sampler.watch();
setTimeout(() => console.log('sampling', sampler.sampling), 50);`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      expect(child.error).toBeUndefined();
      expect(child.stderr).toBe('');
      expect(child.stdout).toBe('sampling true\n');
      expect(child.status).toBe(0);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
