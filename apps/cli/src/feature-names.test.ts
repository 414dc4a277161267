import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession } from '@hyperproto/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './test-support/run-cli.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';

// A model trained on a CSV with a header keeps its feature names and label column, `export` writes them into the
// ONNX file, and `predict` checks a CSV header against them: the label column left out unread, another order refused.
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-feature-names-'));
const cli = (args: string[]) => runCli(args, scratch);
const write = (name: string, lines: readonly string[]) => writeFileSync(join(scratch, name), `${lines.join('\n')}\n`);

/** The file's columns: the label second, so that leaving it out shifts the columns after it. */
const HEADER = ['width', 'kind', 'height', 'depth'];
const FEATURES = ['width', 'height', 'depth'];
const KINDS = ['bolt', 'nut', 'washer'];

/** 3 classes, each shifted along its own feature, seeded; each row as the features and its label. */
function makeRows(count: number): { features: string[]; kind: string }[] {
  let state = 7;
  const uniform = () => (state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, (_, i) => {
    const c = i % 3;
    const features = FEATURES.map((_, k) => ((k === c ? 3 : 0) + 2 * (uniform() - 0.5)).toFixed(4));
    return { features, kind: KINDS[c]! };
  });
}
const rows = makeRows(150);
const csvLine = (values: Record<string, string>, columns: readonly string[]) => columns.map((name) => values[name]).join(',');
const valuesOf = ({ features, kind }: { features: string[]; kind: string }): Record<string, string> => ({
  kind,
  ...Object.fromEntries(FEATURES.map((name, k) => [name, features[k]!])),
});

const expectRefusal = (run: CliRun, message: string) => {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).toContain(`error E_INVALID_INPUT: ${message}`);
};
const predictions = (run: CliRun) => {
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { predictions: unknown[] }).predictions;
};

beforeAll(async () => {
  write('train.csv', [HEADER.join(','), ...rows.map((row) => csvLine(valuesOf(row), HEADER))]);
  const train = await cli([
    'train',
    ...['--data', 'train.csv', '--dataset-option', 'labelColumn=kind'],
    ...['--head', 'softmax', '--hidden-units', '16', '--max-epochs', '40', '--out', 'named', '--json'],
  ]);
  expect(train.code, train.stderr).toBe(0);
  const exported = await cli(['export', 'named', '--out', 'named.onnx', '--json']);
  expect(exported.code, exported.stderr).toBe(0);
  expect(JSON.parse(exported.stdout)).toMatchObject({ inputWidth: 3, classNames: 3, featureNames: 3, labelColumn: 'kind' });
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('feature names kept with the model', () => {
  it('saves the header names (label column left out) and the label column with the trained model', () => {
    const modelJson = JSON.parse(readFileSync(join(scratch, 'named/model/model.json'), 'utf8'));
    expect(modelJson.metadata).toMatchObject({ featureNames: FEATURES, labelColumn: 'kind', classNames: KINDS });
  });

  it('writes them into the ONNX metadata, which runtime-node reads', async () => {
    const session = await createSession(join(scratch, 'named.onnx'));
    try {
      expect(session.featureNames).toEqual(FEATURES);
      expect(session.labelColumn).toBe('kind');
      expect(session.metadata.featureNames).toBe('["width","height","depth"]');
      expect(session.metadata.labelColumn).toBe('kind');
    } finally {
      await session.release();
    }
  });
});

describe('a run saved before its model kept the names', () => {
  it("exports the names from the run's dataset facts and the label column from its spec", async () => {
    cpSync(join(scratch, 'named'), join(scratch, 'older'), { recursive: true });
    const edit = (path: string, change: (json: Record<string, any>) => void) => {
      const json = JSON.parse(readFileSync(join(scratch, path), 'utf8'));
      change(json);
      writeFileSync(join(scratch, path), JSON.stringify(json));
    };
    edit('older/model/model.json', (json) => {
      delete json.metadata.featureNames;
      delete json.metadata.labelColumn;
    });
    // Facts recorded before `header` was: the names alone, judged by the same rule.
    edit('older/metrics.json', (json) => {
      expect(json.dataset).toMatchObject({ header: 'names', columns: FEATURES });
      delete json.dataset.header;
    });
    const exported = await cli(['export', 'older', '--out', 'older.onnx', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ featureNames: 3, labelColumn: 'kind' });
    const session = await createSession(join(scratch, 'older.onnx'));
    try {
      expect(session.featureNames).toEqual(FEATURES);
      expect(session.labelColumn).toBe('kind');
    } finally {
      await session.release();
    }
  });
});

describe('predict with a CSV header', () => {
  it('reads the training file itself, leaving out the label column, as the features alone', async () => {
    write('features.csv', [FEATURES.join(','), ...rows.map((row) => row.features.join(','))]);
    write(
      'no-header.csv',
      rows.map((row) => row.features.join(',')),
    );
    const alone = predictions(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--json']));
    expect(alone).toHaveLength(150);
    expect(predictions(await cli(['predict', 'named.onnx', '--input', 'train.csv', '--json']))).toEqual(alone);
    // Rows without names are taken by position, as before.
    expect(predictions(await cli(['predict', 'named.onnx', '--input', 'no-header.csv', '--json']))).toEqual(alone);
    // The model learned, so the order of the features matters: most rows get their own class, and the same
    // rows with two features swapped (no header to tell) get others.
    const right = alone.filter((p, i) => (p as { className: string }).className === rows[i]!.kind).length;
    expect(right).toBeGreaterThan(110);
    write(
      'swapped-no-header.csv',
      rows.map(({ features: [w, h, d] }) => [h, w, d].join(',')),
    );
    const swapped = predictions(await cli(['predict', 'named.onnx', '--input', 'swapped-no-header.csv', '--json']));
    expect(swapped.filter((p, i) => (p as { className: string }).className === rows[i]!.kind).length).toBeLessThan(100);

    const table = await cli(['predict', 'named.onnx', '--input', 'train.csv']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stderr).toContain('train.csv: left out the label column "kind"');
  });

  it('leaves out a label column that is blank in rows not yet labelled, reading none of it', async () => {
    const alone = predictions(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--json']));
    // Every third row unlabelled, one with spaces only: the labels are never read, so neither is refused.
    const unlabelled = rows.map((row, i) => csvLine({ ...valuesOf(row), kind: i % 3 === 0 ? '' : i % 3 === 1 ? '  ' : row.kind }, HEADER));
    write('unlabelled.csv', [HEADER.join(','), ...unlabelled]);
    expect(predictions(await cli(['predict', 'named.onnx', '--input', 'unlabelled.csv', '--json']))).toEqual(alone);
  });

  it('refuses the same columns in another order, naming the first one out of place and the order', async () => {
    const reordered = ['depth', 'kind', 'width', 'height'];
    write('reordered.csv', [reordered.join(','), ...rows.map((row) => csvLine(valuesOf(row), reordered))]);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'reordered.csv']),
      'reordered.csv line 1 names the columns of the model in another order: feature column 1 is "depth" in reordered.csv but "width" in the model; the model takes "width", "height", "depth", in that order (label column "kind" left out)',
    );
    write('swapped.csv', ['width,depth,height', '1,2,3']);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'swapped.csv']),
      'swapped.csv line 1 names the columns of the model in another order: feature column 2 is "depth" in swapped.csv but "height" in the model; the model takes "width", "height", "depth", in that order\n',
    );
  });

  it('refuses other names, listing the unknown and the missing ones', async () => {
    write('renamed.csv', ['width,height,length', '1,2,3']);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'renamed.csv']),
      'renamed.csv line 1 names other columns than the model: "length" is not in the model, and "depth" is missing; the model takes "width", "height", "depth", in that order',
    );
    write('extra.csv', ['width,height,depth,id', '1,2,3,4']);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'extra.csv']),
      'extra.csv line 1 names other columns than the model: "id" is not in the model; the model takes "width", "height", "depth", in that order',
    );
    // A column the model does not take is judged by its name, before any of its values: here text, not numbers.
    write('id.csv', ['id,width,height,depth', 'row0,1,2,3']);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'id.csv']),
      'id.csv line 1 names other columns than the model: "id" is not in the model; the model takes "width", "height", "depth", in that order',
    );
    write('twice.csv', ['width,height,height', '1,2,3']);
    expectRefusal(
      await cli(['predict', 'named.onnx', '--input', 'twice.csv']),
      'twice.csv line 1 names other columns than the model: "depth" is missing; the model takes "width", "height", "depth", in that order',
    );
  });

  it('takes a header of column positions, and JSON lines with a label key, by position', async () => {
    const alone = predictions(await cli(['predict', 'named.onnx', '--input', 'features.csv', '--json']));
    write('positions.csv', ['0,1,2', ...rows.map((row) => row.features.join(','))]);
    expect(predictions(await cli(['predict', 'named.onnx', '--input', 'positions.csv', '--json']))).toEqual(alone);
    write(
      'rows.jsonl',
      rows.map((row) => JSON.stringify({ features: row.features.map(Number), kind: row.kind })),
    );
    expect(predictions(await cli(['predict', 'named.onnx', '--input', 'rows.jsonl', '--json']))).toEqual(alone);
  });
});

describe('a file too wide for the dataset facts to list its columns', () => {
  it('keeps all 150 names with the model, while metrics.json only counts them', async () => {
    const names = Array.from({ length: 150 }, (_, k) => `feature_${k}`);
    const lines = Array.from({ length: 60 }, (_, i) =>
      [...names.map((_, k) => ((k === i % 3 ? 2 : 0) + ((i * 7 + k) % 5) / 10).toFixed(2)), KINDS[i % 3]].join(','),
    );
    write('wide.csv', [[...names, 'kind'].join(','), ...lines]);
    const train = await cli([
      'train',
      ...['--data', 'wide.csv', '--dataset-option', 'labelColumn=kind'],
      ...['--head', 'softmax', '--hidden-units', '8', '--max-epochs', '2', '--out', 'wide', '--json'],
    ]);
    expect(train.code, train.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(join(scratch, 'wide/metrics.json'), 'utf8'));
    expect(metrics.dataset).toMatchObject({ header: 'names', columnCount: 150 });
    expect(metrics.dataset.columns).toBeUndefined();
    const exported = await cli(['export', 'wide', '--out', 'wide.onnx', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ inputWidth: 150, featureNames: 150, labelColumn: 'kind' });
    const session = await createSession(join(scratch, 'wide.onnx'));
    try {
      expect(session.featureNames).toEqual(names);
    } finally {
      await session.release();
    }
    // The training file itself passes the name check; the same file with two names swapped does not.
    expect(predictions(await cli(['predict', 'wide.onnx', '--input', 'wide.csv', '--json']))).toHaveLength(60);
    const swapped = [...names];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    write('wide-swapped.csv', [[...swapped, 'kind'].join(','), ...lines]);
    expectRefusal(
      await cli(['predict', 'wide.onnx', '--input', 'wide-swapped.csv']),
      'wide-swapped.csv line 1 names the columns of the model in another order: feature column 4 is "feature_4" in wide-swapped.csv but "feature_3" in the model; the model takes "feature_0", "feature_1",',
    );
  }, 60_000);
});

describe('a model trained without names', () => {
  it('exports without featureNames or labelColumn and predicts a named CSV by position', async () => {
    const train = await cli(['train', ...tinyTrainFlags({ maxEpochs: 2 }), '--head', 'softmax', '--out', 'unnamed', '--json']);
    expect(train.code, train.stderr).toBe(0);
    const exported = await cli(['export', 'unnamed', '--out', 'unnamed.onnx', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ featureNames: 0, labelColumn: null });
    const session = await createSession(join(scratch, 'unnamed.onnx'));
    const width = session.inputWidth;
    try {
      expect(session.featureNames).toBeUndefined();
      expect(session.labelColumn).toBeUndefined();
      expect(Object.keys(session.metadata)).not.toContain('featureNames');
      expect(Object.keys(session.metadata)).not.toContain('labelColumn');
    } finally {
      await session.release();
    }
    const values = Array.from({ length: width }, (_, k) => (k / width).toFixed(3)).join(',');
    const names = Array.from({ length: width }, (_, k) => `f${k}`).join(',');
    write('named-rows.csv', [names, values]);
    write('plain-rows.csv', [values]);
    const plain = predictions(await cli(['predict', 'unnamed.onnx', '--input', 'plain-rows.csv', '--json']));
    expect(predictions(await cli(['predict', 'unnamed.onnx', '--input', 'named-rows.csv', '--json']))).toEqual(plain);
  });
});
