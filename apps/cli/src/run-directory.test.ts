import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  it('--force on a directory that is not a run names the files it would have deleted, and keeps them', async () => {
    const target = join(scratch, 'thesis');
    mkdirSync(target);
    const names = ['chapter-1.tex', 'chapter-2.tex', 'data.csv', 'figures', 'notes.md', 'refs.bib', 'thesis.tex'];
    for (const name of names) writeFileSync(join(target, name), name);
    const refusal = await RunDirectory.open(target, { force: true }).catch((error: Error) => error);
    expect((refusal as Error).message).toBe(
      `--out ${target} is not a hyperproto run directory (it has no model, spec.json, metrics.json); --force replaces only an earlier run and would have deleted what it holds: chapter-1.tex, chapter-2.tex, data.csv, figures, notes.md and 2 more (7 in all)`,
    );
    expect(readdirSync(target).sort()).toEqual(names);
    const small = join(scratch, 'small');
    mkdirSync(small);
    writeFileSync(join(small, 'metrics.json'), '{}');
    writeFileSync(join(small, 'model.onnx'), '');
    const refused = await RunDirectory.open(small, { force: true }).catch((error: Error) => error);
    expect((refused as Error).message).toMatch(
      /\(it has no model, spec\.json\); --force replaces only an earlier run and would have deleted what it holds: metrics\.json, model\.onnx$/,
    );
    expect(readdirSync(scratch).filter((name) => name.includes('.partial-'))).toEqual([]);
  });
});
