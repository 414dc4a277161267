// Generated inputs (fast-check): feature rows for `predict` and config files. Whatever the file holds, the
// result is rows or a documented error (E_INVALID_INPUT / E_INVALID_OPTIONS, exit code 2), never a bug.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isHyperprotoError } from '@hyperproto/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { describeError, exitCodeFor } from './exit-codes.js';
import { readFeatureFile } from './feature-files.js';
// The built module: it registers its module hooks by file name, which exist only next to the compiled code.
import { buildRegistry } from '../dist/plugin-loading.js';

const RUNS = Number(process.env.HYPERPROTO_FUZZ_RUNS) || 200;
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-generated-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function file(name: string, text: string): string {
  const dir = join(scratch, String(++counter));
  const path = join(dir, name);
  mkdirSync(dir);
  writeFileSync(path, text);
  return path;
}

/** A failure must be one of `codes`, exit 2, and read as a user error: no stack, no "internal error". */
async function succeedsOrRefuses(work: () => Promise<unknown>, codes: readonly string[]): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!isHyperprotoError(error) || !codes.includes(error.code)) throw error;
    expect(exitCodeFor(error)).toBe(2);
    expect(describeError(error)).not.toMatch(/internal error|\n\s+at /);
  }
}

const WIDTH = 3;
const numberField = fc.oneof(
  fc.double({ noNaN: false }).map(String),
  fc.integer().map(String),
  fc.constantFrom('0x1F', '0b101', '0o17', '1_000', '1e', '.', '-', '+.5', 'Infinity', 'nan', '', ' ', '1e400', '"1"'),
  fc.string({ maxLength: 6 }),
);

describe('predict input rows from generated files (property)', () => {
  it('CSV rows are read or refused with E_INVALID_INPUT; hex, binary and octal never pass', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(numberField, { minLength: 1, maxLength: 4 }), { maxLength: 5 }), async (rows) => {
        const text = rows.map((row) => row.join(',')).join('\n');
        const path = file('rows.csv', text);
        await succeedsOrRefuses(async () => {
          const matrix = await readFeatureFile(path, WIDTH);
          expect(/(^|,)\s*[+-]?0[xXbBoO]/.test(text.split('\n').slice(1).join('\n'))).toBe(false);
          for (const value of matrix.data) expect(Number.isFinite(value)).toBe(true);
        }, [ErrorCode.InvalidInput]);
      }),
      { numRuns: RUNS },
    );
  });

  it.each(['0x1F', '0b101', '0o17'])('refuses the CSV feature %s', async (field) => {
    const path = file('rows.csv', `1,2,3\n1,${field},3\n`);
    await expect(readFeatureFile(path, WIDTH)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(new RegExp(`line 2, column 2: "${field}" is written in (hexadecimal|binary|octal)`)),
    });
  });

  it('JSON lines are read or refused with E_INVALID_INPUT', async () => {
    const line = fc.oneof(
      fc.json(),
      fc.array(fc.oneof(fc.double(), fc.string(), fc.constant(null)), { maxLength: 4 }).map((a) => JSON.stringify(a)),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 4 }), async (lines) => {
        const path = file('rows.jsonl', lines.join('\n'));
        await succeedsOrRefuses(() => readFeatureFile(path, WIDTH), [ErrorCode.InvalidInput]);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('config files from generated text (property)', () => {
  it('random JSON and non-JSON in hyperproto.config.json is loaded or refused with E_INVALID_OPTIONS', async () => {
    const text = fc.oneof(
      fc.json(),
      fc.string(),
      fc
        .record({ plugins: fc.oneof(fc.json(), fc.array(fc.oneof(fc.string(), fc.tuple(fc.integer(), fc.json())), { maxLength: 3 })) })
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(text, async (config) => {
        const path = file('hyperproto.config.json', config);
        await succeedsOrRefuses(
          () => buildRegistry({ cwd: join(path, '..') }),
          // A plugin entry that names a path or package that is not there is E_INVALID_PLUGIN.
          [ErrorCode.InvalidOptions, ErrorCode.InvalidPlugin],
        );
      }),
      { numRuns: RUNS },
    );
  });
});
