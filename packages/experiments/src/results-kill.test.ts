// A running experiment killed with SIGKILL again and again: every finished record stays, none appears twice.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResults, RESULTS_FILE } from './results-store.js';
import { prepareChildScratch } from './test-support/built-package-child.js';
import { fakeGrid } from './test-support/fake-grid.js';

// Datasets c4 and c8, models softmax, axes-4 and axes-8.
const grid = fakeGrid('killed', 12, { axesDims: [4, 8] });
const TOTAL = 2 * 3 * 12;

let scratch: string;
let script: string;

beforeAll(async () => {
  const child = await prepareChildScratch('hyperproto-kill-');
  scratch = child.dir;
  script = join(scratch, 'run.mjs');
  writeFileSync(
    script,
    `import { parseGrid, runGrid } from ${JSON.stringify(child.builtPackage)};
await runGrid({ grid: parseGrid(${JSON.stringify(grid)}), out: process.argv[2], registryModule: ${JSON.stringify(child.registryModule)}, inline: true, workers: 2, resume: true });
`,
  );
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

/** Runs the experiment; kills it once `killWhen` says so (or lets it finish when it never does). */
async function runUntil(out: string, killWhen: (elapsedMs: number) => boolean): Promise<{ killed: boolean }> {
  const child = spawn(process.execPath, [script, out], { stdio: 'ignore', env: { ...process.env, FAKE_ENGINE_DELAY_MS: '15' } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const start = Date.now();
  while (!done) {
    if (killWhen(Date.now() - start)) {
      child.kill('SIGKILL');
      await exited;
      return { killed: true };
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { killed: false };
}

describe('SIGKILL during an experiment', () => {
  it('10 kills at random moments lose no finished record and duplicate none; the last session completes the grid', async () => {
    const out = join(scratch, 'out');
    const results = join(out, RESULTS_FILE);
    const seen = new Map<string, string>();
    let kills = 0;
    for (let round = 0; round < 10; round++) {
      const before = lines(results).length;
      // Even rounds: kill just after a record lands; odd rounds: at a random moment (also while starting up).
      const at = Math.random() * 600;
      const { killed } = await runUntil(out, (elapsed) => (round % 2 === 0 ? lines(results).length > before : elapsed > at));
      if (killed) kills++;
      // Only the last line may be cut; whole lines are records of distinct runs, and every earlier one is still there.
      const { records, duplicates } = parseResults(existsSync(results) ? readFileSync(results) : Buffer.alloc(0), results);
      expect(duplicates).toEqual([]);
      for (const [key, line] of seen) expect(JSON.stringify(records.find((r) => r.key === key))).toBe(line);
      for (const record of records) seen.set(record.key, JSON.stringify(record));
    }
    expect(kills).toBeGreaterThanOrEqual(8);
    expect(seen.size).toBeLessThan(TOTAL);

    expect((await runUntil(out, () => false)).killed).toBe(false);
    const { records, torn, duplicates } = parseResults(readFileSync(results), results);
    expect(torn).toBeUndefined();
    expect(duplicates).toEqual([]);
    expect(lines(results)).toHaveLength(TOTAL);
    expect(new Set(records.map((r) => r.key)).size).toBe(TOTAL);
    for (const [key, line] of seen) expect(JSON.stringify(records.find((r) => r.key === key))).toBe(line);
  }, 90_000);
});
