import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@hyperproto/core';
import { afterAll, describe, expect, it } from 'vitest';
import { errorJson, exitCodeFor } from './exit-codes.js';
import { runCli } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-json-errors-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, scratch);

/** stdout is exactly one `{error: {code, message, hint?}}` object, stderr is empty. */
function parseError(stdout: string): { code: string; message: string; hint?: string } {
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const parsed = JSON.parse(lines[0]!) as { error: { code: string; message: string; hint?: string } };
  expect(Object.keys(parsed)).toEqual(['error']);
  const { code, message, hint, ...rest } = parsed.error;
  expect(rest).toEqual({});
  expect(typeof message).toBe('string');
  expect(message.length).toBeGreaterThan(0);
  if (hint !== undefined) expect(typeof hint).toBe('string');
  return parsed.error;
}

describe('--json errors: one JSON object on stdout, nothing on stderr, the same exit code as without --json', () => {
  it.each([
    ['an unknown plugin', ['train', '--classes', '3', '--head', 'softmx'], 2, ErrorCode.UnknownPlugin, /unknown head "softmx"/],
    ['a bad option value', ['train', '--classes', 'x'], 2, ErrorCode.InvalidOptions, /'--classes <n>' argument 'x' is invalid/],
    [
      'an unknown option',
      ['train', '--classes', '3', '--no-such-option'],
      2,
      ErrorCode.InvalidOptions,
      /unknown option '--no-such-option'/,
    ],
    ['a missing prototype file', ['prototypes', 'inspect', 'missing.npy'], 3, ErrorCode.Io, /cannot read missing\.npy/],
    ['a missing grid file', ['experiment', '--grid', 'missing.json'], 3, ErrorCode.Io, /missing\.json/],
    ['a missing plugin path', ['plugins', '--plugin', './missing.mjs'], 2, ErrorCode.InvalidPlugin, /missing\.mjs/],
  ])('%s', async (_, args, exitCode, code, message) => {
    const [plain, json] = await Promise.all([cli(args), cli([...args, '--json'])]);
    expect(plain.code, plain.stderr).toBe(exitCode);
    expect(json.code, json.stdout).toBe(exitCode);
    expect(json.stderr).toBe('');
    const error = parseError(json.stdout);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(plain.stderr).toContain(error.message);
  });

  it('keeps an experiment with failed runs to one object: the result, with the error in it', async () => {
    writeFileSync(
      join(scratch, 'broken-data.mjs'),
      `import { defineDataset, z } from '@hyperproto/core';
export default defineDataset({ name: 'broken', summary: 'fails on purpose', options: z.object({}).strict(), generate() { throw new Error('broken on purpose'); } });
`,
    );
    const grid = {
      name: 'broken',
      seeds: 1,
      plugins: ['./broken-data.mjs'],
      datasets: [{ id: 'b', name: 'broken', options: {} }],
      models: [{ id: 'softmax', head: 'softmax' }],
      trainer: { maxEpochs: 1 },
    };
    writeFileSync(join(scratch, 'broken.json'), JSON.stringify(grid));
    const run = await cli(['experiment', '--grid', 'broken.json', '--out', 'broken-out', '--workers', '1', '--json']);
    expect(run.code).toBe(4);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const result = JSON.parse(run.stdout);
    expect(result.failed).toHaveLength(1);
    expect(result.error).toMatchObject({
      code: ErrorCode.TrainingFailed,
      message: expect.stringMatching(/1 run\(s\) failed, first b\/softmax\/s0: .*broken on purpose/),
    });
  });

  it('reports a bug as E_INTERNAL with exit code 1', () => {
    const bug = new TypeError('cannot read properties of undefined');
    expect(errorJson(bug)).toEqual({ error: { code: ErrorCode.Internal, message: bug.message, hint: expect.stringMatching(/bug/) } });
    expect(exitCodeFor(bug)).toBe(1);
  });
});
