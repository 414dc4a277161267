import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isCompleteExample, readmeBlocks, typeCheckExamples, workspaceReadmes, writeExamplesProject } from './readme-blocks.js';

/**
 * The README says its examples type-check under `strict` and `noUncheckedIndexedAccess`: every complete example
 * (see readme-blocks.ts for the rule) of README.md and the packages' READMEs is checked by one tsc run against the
 * built packages.
 */
const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-readme-examples-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SAMPLE = [
  '# sample',
  '',
  '```js',
  '// file: helper.js',
  "import { createMatrix } from '@hyperproto/core';",
  'export const empty = createMatrix(1, 2);',
  '```',
  '',
  '```ts',
  '// fragment: the body of a plugin',
  "import { z } from '@hyperproto/core';",
  '```',
  '',
  '```js',
  "import { empty } from './helper.js';",
  "import { writeMatrixNpy } from '@hyperproto/npy';",
  'const first = [1, 2][0];',
  'console.log(first + 1, empty.rows);',
  "await writeMatrixNpy('x.npy', empty);",
  '```',
  '',
  '```sh',
  'pnpm hyperproto --help',
  '```',
  '',
  '```js',
  "console.log('no import: shown, not checked');",
  '```',
].join('\n');

describe('README code blocks', () => {
  it('are read with their README line, `// file:` name and `// fragment:` reason; only complete examples are checked', () => {
    const blocks = readmeBlocks(SAMPLE, 'sample/README.md');
    expect(blocks.map(({ line, language, file, fragment }) => ({ line, language, file, fragment }))).toEqual([
      { line: 4, language: 'js', file: 'helper.js', fragment: undefined },
      { line: 10, language: 'ts', file: undefined, fragment: 'the body of a plugin' },
      { line: 15, language: 'js', file: undefined, fragment: undefined },
      { line: 27, language: 'js', file: undefined, fragment: undefined },
    ]);
    expect(blocks.map(isCompleteExample)).toEqual([true, false, true, false]);
  });

  it("name an example's type errors by README line, and resolve a `// file:` block imported by another", async () => {
    const examples = readmeBlocks(SAMPLE, 'sample/README.md').filter(isCompleteExample);
    const dir = join(scratch, 'sample');
    const errors = await typeCheckExamples(dir, writeExamplesProject(dir, examples, repoRoot));
    // `[1, 2][0]` may be undefined under noUncheckedIndexedAccess: line 18 of the sample, column 13.
    expect(errors).toEqual([expect.stringMatching(/^sample\/README\.md:18:13 error TS18048: 'first' is possibly 'undefined'\./)]);
  }, 60_000);

  it("every complete example of README.md and the packages' READMEs type-checks (strict, noUncheckedIndexedAccess)", async () => {
    const blocks = workspaceReadmes(repoRoot).flatMap((readme) => readmeBlocks(readFileSync(join(repoRoot, readme), 'utf8'), readme));
    const examples = blocks.filter(isCompleteExample);
    // The library example and the plugin of README.md, and at least one per package README.
    expect(examples.filter((block) => block.readme === 'README.md')).toHaveLength(2);
    expect(examples.some((block) => block.readme === 'packages/mlp/README.md')).toBe(true);
    expect(examples.length).toBeGreaterThanOrEqual(35);
    // A fragment must say what it is a part of.
    expect(blocks.filter((block) => block.fragment === '')).toEqual([]);
    const dir = join(scratch, 'workspace');
    expect(await typeCheckExamples(dir, writeExamplesProject(dir, examples, repoRoot))).toEqual([]);
  }, 120_000);
});
