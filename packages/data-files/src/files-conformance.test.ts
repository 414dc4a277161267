import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetConformance } from '@hyperproto/plugin-testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import files from './index.js';
import { clusteredRows, writeNpy, writeText } from './test-support/dataset-files.js';

// The cases are made when the file is collected, so the paths must exist by name before the files are written.
const dir = mkdtempSync(join(tmpdir(), 'hyperproto-data-files-conformance-'));
const path = (name: string) => join(dir, name);
const { rows, labels } = clusteredRows(4, 12, 3);

beforeAll(async () => {
  await writeNpy(path('x.npy'), '<f8', [rows.length, 3], rows.flat());
  await writeNpy(path('y.npy'), '<i8', [labels.length], labels);
  await writeText(path('x.csv'), ['a,b,c,kind', ...rows.map((row, i) => `${row.join(',')},k${labels[i]}`)].join('\n'));
  await writeText(
    path('test.jsonl'),
    rows
      .slice(0, 5)
      .map((row, i) => JSON.stringify({ features: row, kind: `k${labels[i]}` }))
      .join('\n'),
  );
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('dataset:files conformance, .npy with fraction splits', () => {
  for (const c of datasetConformance(files, { options: { data: path('x.npy'), labels: path('y.npy') } })) it(c.name, c.run);
});

describe('dataset:files conformance, CSV label column with a JSON-lines test file', () => {
  for (const c of datasetConformance(files, { options: { data: path('x.csv'), labelColumn: 'kind', testData: path('test.jsonl') } }))
    it(c.name, c.run);
});

describe('dataset:files conformance, CSV labels named by an inline classNames list (describe gives the class count)', () => {
  const classNames = ['k3', 'k2', 'k1', 'k0'];
  for (const c of datasetConformance(files, { options: { data: path('x.csv'), labelColumn: 'kind', classNames } })) it(c.name, c.run);

  it('describes the class count from the list and nothing it would have to read a file for', () => {
    expect(files.describe!({ data: path('x.csv'), labelColumn: 'kind', classNames } as never)).toEqual({ classes: 4 });
    expect(files.describe!({ data: path('x.npy'), labels: path('y.npy') } as never)).toEqual({});
    expect(files.describe!({ data: path('x.npy'), labels: path('y.npy'), classNames: path('names.txt') } as never)).toEqual({});
  });
});
