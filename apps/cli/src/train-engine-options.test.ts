import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-engine-options-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A tiny real run: 3 separated classes, a small network, 2 epochs. */
const SMALL = ['--classes', '3', '--sigma', '0.5', '--train-per-class', '30', '--hidden-units', '8', '--max-epochs', '2'];
const train = (args: string[], env: Record<string, string> = {}) => runCli(['train', ...SMALL, '--json', ...args], scratch, env);

describe('hyperproto train --engine-option', () => {
  it("hands the engine its options and records them in the run's spec", async () => {
    const run = await train(['--engine', 'onnxruntime', '--engine-option', 'provider=cpu', '--out', 'cpu']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ engine: 'onnxruntime', backend: 'onnxruntime/cpu' });
    expect(JSON.parse(readFileSync(join(scratch, 'cpu', 'spec.json'), 'utf8')).engine).toEqual({
      name: 'onnxruntime',
      options: { provider: 'cpu' },
    });
  });

  it('refuses an option the engine does not take, and options without an engine, before any work (exit 2)', async () => {
    const unknown = await train(['--engine', 'onnxruntime', '--engine-option', 'provider=gpu', '--out', 'gpu']);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: expect.stringMatching(/^engine:onnxruntime provider: /),
    });
    const orphan = await train(['--engine-option', 'provider=cpu', '--out', 'orphan']);
    expect(orphan.code).toBe(2);
    expect(JSON.parse(orphan.stdout).error.message).toMatch(/--engine-option needs --engine/);
  });

  it('refuses a HYPERPROTO_THREADS that is not a whole number of threads (exit 2)', async () => {
    const run = await train(['--out', 'threads'], { HYPERPROTO_THREADS: 'many' });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error.message).toMatch(
      /HYPERPROTO_THREADS must be a whole number of threads from 1 to \d+ \(4 x the \d+ cores\), got "many"/,
    );
  });
});
