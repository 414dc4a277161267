import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunDirectory } from './run-directory.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-run-directory-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('RunDirectory', () => {
  it('of two runs that open the same new --out, the second to finish is saved beside it, not over it', async () => {
    const target = join(scratch, 'shared-out');
    const first = await RunDirectory.open(target);
    const second = await RunDirectory.open(target);
    await first.writeJson('metrics.json', { run: 'first' });
    await second.writeJson('metrics.json', { run: 'second' });
    await first.commit();
    const refusal = await second.commit().catch((error: Error) => error);
    expect(refusal).toBeInstanceOf(Error);
    expect((refusal as Error).message).toMatch(
      /was written by another process while this run was working; this run was saved to .*shared-out\.\d+ instead/,
    );
    expect(JSON.parse(readFileSync(join(target, 'metrics.json'), 'utf8'))).toEqual({ run: 'first' });
    const kept = readdirSync(scratch).find((name) => /^shared-out\.\d+$/.test(name));
    expect(kept).toBeDefined();
    expect(JSON.parse(readFileSync(join(scratch, kept as string, 'metrics.json'), 'utf8'))).toEqual({ run: 'second' });
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });
});
