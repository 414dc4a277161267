// Generated grid files: a bad one is refused with E_INVALID_OPTIONS naming the dotted path, never a raw ZodError.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isHyperprotoError } from '@hyperproto/core';
import { loadGridFile } from './grid-files.js';
import { parseGrid } from './grid-schema.js';
import { checkGrid } from './grid-validation.js';
import { buildRegistry } from './test-support/fake-registry.js';
import { refusal } from './test-support/refusal.js';

// A few hundred cases by default; HYPERPROTO_FUZZ_RUNS raises it (e.g. for a nightly run).
const numRuns = Number(process.env.HYPERPROTO_FUZZ_RUNS) || 300;

const valid = {
  name: 'fuzzed',
  seeds: 2,
  datasets: [
    { id: 'c4', name: 'blobs', options: { classes: 4 } },
    { id: 'c8', label: 'eight', name: 'blobs', options: { classes: 8, perClass: 2 } },
  ],
  models: [
    { id: 'softmax', head: 'softmax' },
    { id: 'axes-4', head: { name: 'hpn', options: {} }, prototypes: { strategy: 'axes', dims: 4, options: {} } },
  ],
  trainer: { maxEpochs: 3 },
  published: { source: 'a study', macroF1: { c4: { softmax: 90 } }, notes: ['n'] },
  calibration: { model: 'softmax', tolerancePoints: 2 },
  notes: ['why'],
};

/** Every path into `valid` (objects and arrays), to change or remove what is there. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const path = [...prefix, Array.isArray(value) ? Number(k) : k];
    return [path, ...paths(v, path)];
  });
}
const allPaths = paths(valid);

type Edit =
  | { kind: 'set'; path: (string | number)[]; value: unknown }
  | { kind: 'delete'; path: (string | number)[] }
  | { kind: 'add'; path: (string | number)[]; key: string; value: unknown };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...allPaths), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...allPaths) }),
  fc.record({
    kind: fc.constant('add' as const),
    path: fc.constantFrom([], ...allPaths),
    key: fc.string({ minLength: 1, maxLength: 8 }),
    value: fc.jsonValue({ maxDepth: 1 }),
  }),
);

/** The valid grid with a few parts replaced, removed or added: the shapes a hand-edited grid file takes. */
const editedGrid = fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
  const grid = structuredClone(valid) as Record<string, unknown>;
  for (const e of edits) {
    const path = e.kind === 'add' ? [...e.path, e.key] : e.path;
    let parent: unknown = grid;
    for (const step of path.slice(0, -1)) parent = typeof parent === 'object' && parent !== null ? (parent as never)[step] : undefined;
    if (typeof parent !== 'object' || parent === null) continue;
    const last = path.at(-1)!;
    if (e.kind === 'delete') {
      if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
      else delete (parent as Record<string, unknown>)[last];
    } else {
      // defineProperty: a key such as "__proto__" is set as data, as JSON.parse would.
      Object.defineProperty(parent, last, { value: e.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return grid;
});

/**
 * Where in the grid: a dotted path of keys and indices, e.g. `models.1.prototypes.dims`; an unknown field at the top
 * level is named by itself.
 */
const DOTTED = /^grid\.json:? (?:(?:"(?:[^"\\]|\\.)*"|[^\s:;."]+)(?:\.(?:"(?:[^"\\]|\\.)*"|[^\s:;."]+))*: |unknown fields? ")/;

function expectOptionsRefusal(error: unknown): void {
  expect(isHyperprotoError(error), `not a HyperprotoError: ${String(error)}`).toBe(true);
  expect(error).toMatchObject({ code: ErrorCode.InvalidOptions });
}

describe('grid files with generated contents', () => {
  it('names unknown fields by the path of their object, with the field meant and the fields there are', () => {
    const refused = (raw: unknown) => refusal(() => parseGrid(raw, 'grid.json'));
    const gridFields = 'name, description, seeds, datasets, models, trainer, engine, evaluators, published, calibration, notes, plugins';
    expect(refused({ ...valid, seed: 3 }).message).toBe(
      `grid.json: unknown field "seed" (did you mean "seeds"?); the fields here are ${gridFields}`,
    );
    expect(refused({ ...valid, models: [{ id: 'a', head: 'softmax', datasts: ['c4'] }], 'my key': 1 }).message).toBe(
      'grid.json: models.0: unknown field "datasts" (did you mean "datasets"?); the fields here are id, label, head, prototypes, trainer, datasets, seeds; ' +
        `unknown field "my key"; the fields here are ${gridFields}`,
    );
    expect(refused([valid])).toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: 'grid.json: a grid is a JSON object with "name", "seeds", "datasets" and "models", got a list',
    });
  });

  it('refuses any JSON value that is not a grid with E_INVALID_OPTIONS', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (raw) => {
        try {
          parseGrid(raw, 'grid.json');
        } catch (error) {
          expectOptionsRefusal(error);
          expect((error as Error).message).toMatch(/^grid\.json\b/);
          return;
        }
        throw new Error(`accepted ${JSON.stringify(raw)}`);
      }),
      { numRuns },
    );
  });

  it('accepts an edited grid or refuses it naming the dotted path of what is wrong', () => {
    fc.assert(
      fc.property(editedGrid, (raw) => {
        try {
          parseGrid(raw, 'grid.json');
        } catch (error) {
          expectOptionsRefusal(error);
          expect((error as Error).message).toMatch(DOTTED);
        }
      }),
      { numRuns },
    );
  });

  it('checks an edited grid that parses against the registry without a raw error', () => {
    const registry = buildRegistry();
    fc.assert(
      fc.property(editedGrid, (raw) => {
        let grid: ReturnType<typeof parseGrid>;
        try {
          grid = parseGrid(raw, 'grid.json');
        } catch {
          return;
        }
        try {
          checkGrid(registry, grid, 'grid.json');
        } catch (error) {
          expect(isHyperprotoError(error), `not a HyperprotoError: ${String(error)}`).toBe(true);
        }
      }),
      { numRuns },
    );
  });

  describe('loadGridFile', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'hyperproto-grid-fuzz-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('refuses any file text that is not a grid with E_INVALID_OPTIONS (or E_IO for an unreadable published file)', async () => {
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
        editedGrid.map((g) => JSON.stringify(g)),
        // The published numbers as a file beside the grid, named by a generated string.
        fc.string({ maxLength: 12 }).map((name) => JSON.stringify({ ...valid, published: name })),
      );
      await fc.assert(
        fc.asyncProperty(text, async (contents) => {
          const path = join(dir, 'grid.json');
          writeFileSync(path, contents);
          try {
            await loadGridFile(path);
          } catch (error) {
            expect(isHyperprotoError(error), `not a HyperprotoError: ${String(error)}`).toBe(true);
            expect([ErrorCode.InvalidOptions, ErrorCode.Io]).toContain((error as { code: string }).code);
          }
        }),
        { numRuns },
      );
    });
  });
});
