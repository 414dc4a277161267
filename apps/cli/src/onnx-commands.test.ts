import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMatrix, createRng, type Matrix } from '@hyperproto/core';
import { readClassNames } from '@hyperproto/data-files';
import { writeMatrixNpy } from '@hyperproto/npy';
import { createSession, type ModelSession } from '@hyperproto/runtime-node';
import { CLI_BIN, runCli, type CliRun } from './test-support/run-cli.js';
import { startPredictRequest } from './test-support/in-flight-request.js';
import { tinyTrainFlags } from './test-support/tiny-runs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-onnx-'));
const WIDTH = 300;
const NAMES = ['north', 'east', 'south'];

const cli = (args: string[]) => runCli(args, scratch);

const expectError = (run: CliRun, code: number, pattern: RegExp) => {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
};

const rowsOf = (m: Matrix) => Array.from({ length: m.rows }, (_, r) => [...m.data.subarray(r * m.cols, (r + 1) * m.cols)]);
const features = createMatrix(40, WIDTH, createRng(3).fillNormal(new Float32Array(40 * WIDTH), 0, 1.5));
let session: ModelSession;

beforeAll(async () => {
  const train = await cli([
    'train',
    ...tinyTrainFlags({ batchSize: 16, maxEpochs: 4, patience: 2 }),
    '--head',
    'hpn',
    '--prototypes',
    'random',
    '--dims',
    '4',
    '--out',
    'run',
    '--json',
  ]);
  expect(train.code, train.stderr).toBe(0);
  writeFileSync(join(scratch, 'names.txt'), `${NAMES.join('\n')}\n`);
  const exported = await cli(['export', 'run', '--out', 'model.onnx', '--top-k', '2', '--class-names', 'names.txt', '--json']);
  expect(exported.code, exported.stderr).toBe(0);
  session = await createSession(join(scratch, 'model.onnx'));
});
afterAll(async () => {
  await session?.release();
  rmSync(scratch, { recursive: true, force: true });
});

describe('--help', () => {
  it.each([['export'], ['predict'], ['serve']])('%s --help prints usage', async (command) => {
    const run = await cli([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: hyperproto ${command}`));
    expect(run.stdout).toMatch(/--json/);
  });
});

describe('hyperproto export', () => {
  it("writes a checked model with the run's metadata and the class names", async () => {
    const run = await cli(['export', 'run', '--out', 'again.onnx', '--top-k', '2', '--class-names', 'names.txt', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ head: 'hpn', strategy: 'random', classes: 3, inputWidth: WIDTH, dims: 4, opset: 17, classNames: 3 });
    expect(result.outputs).toEqual(['scores', 'label', 'topk_scores', 'topk_labels']);
    expect(result.verified.rows).toBe(256);
    expect(result.verified.maxScoreDifference).toBeLessThan(1e-4);
    expect(readFileSync(join(scratch, 'again.onnx'))).toEqual(readFileSync(join(scratch, 'model.onnx')));
    expect(session.metadata).toMatchObject({
      head: 'hpn',
      strategy: 'random',
      classes: '3',
      dims: '4',
      inputWidth: String(WIDTH),
      seed: '0',
      dataset: 'gaussian',
    });
    expect(session.metadata.producerVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(session.classNames).toEqual(NAMES);
  });

  it('refuses what it cannot do, with the exit code of the problem', async () => {
    expectError(await cli(['export', 'nowhere', '--out', 'x.onnx']), 3, /nowhere is not a directory/);
    expectError(await cli(['export', '.', '--out', 'x.onnx']), 3, /holds no trained model/);
    expectError(await cli(['export', 'run', '--out', 'model.onnx']), 3, /already exists.*\n.*--force/);
    expectError(await cli(['export', 'run', '--out', 'k.onnx', '--top-k', '9']), 2, /top-k must be an integer from 1 to the 3 classes/);
    expectError(await cli(['export', 'run', '--out', 'k.onnx', '--opset', '16']), 2, /--opset.*integer from 17 to 21/);
    writeFileSync(join(scratch, 'two-names.txt'), 'a\nb\n');
    expectError(await cli(['export', 'run', '--out', 'k.onnx', '--class-names', 'two-names.txt']), 2, /2 class names for 3 classes/);
  });

  it('reads --class-names as training reads classNames: the same names from a .txt and a .json file', async () => {
    writeFileSync(join(scratch, 'padded.txt'), ' north\neast \nsouth\n\n');
    writeFileSync(join(scratch, 'padded.json'), '[" north", "east ", "south"]');
    for (const file of ['padded.txt', 'padded.json']) {
      const out = `${file.replace('.', '-')}.onnx`;
      const run = await cli(['export', 'run', '--out', out, '--no-verify', '--class-names', file]);
      expect(run.code, run.stderr).toBe(0);
      const exported = await createSession(join(scratch, out));
      try {
        expect(exported.classNames).toEqual(NAMES);
        expect(exported.classNames).toEqual((await readClassNames(join(scratch, file)))?.names);
      } finally {
        await exported.release();
      }
    }
  });

  it('refuses the --class-names files training refuses, naming the flag and the line', async () => {
    writeFileSync(join(scratch, 'repeated.txt'), 'north\neast\nnorth\n');
    const repeated = await cli(['export', 'run', '--out', 'repeated.onnx', '--class-names', 'repeated.txt']);
    expect([repeated.code, repeated.stderr.trim()]).toEqual([
      2,
      'error E_INVALID_INPUT: --class-names repeated.txt line 3: class name "north" repeats --class-names repeated.txt line 1; class names must be distinct',
    ]);
    writeFileSync(join(scratch, 'array.txt'), JSON.stringify(NAMES, null, 2));
    const array = await cli(['export', 'run', '--out', 'array.onnx', '--class-names', 'array.txt']);
    expect([array.code, array.stderr.trim()]).toEqual([
      2,
      'error E_INVALID_INPUT: --class-names array.txt looks like a JSON array, but only a file whose name ends in .json is read as JSON, and this one would be read as one class name per line; rename it to array.json, or write one class name per line',
    ]);
    expect(existsSync(join(scratch, 'repeated.onnx')) || existsSync(join(scratch, 'array.onnx'))).toBe(false);
  });
});

describe('hyperproto export --class-names on a run that has class names', () => {
  // Trained on string labels, so the run's class names are the labels sorted: east, north, south.
  const RUN_NAMES = ['east', 'north', 'south'];
  beforeAll(async () => {
    const noise = createRng(4).fillNormal(new Float32Array(90 * 2), 0, 0.5);
    const rows = Array.from({ length: 90 }, (_, i) => {
      const kind = NAMES[i % 3]!;
      return [noise[2 * i]! + (i % 3), noise[2 * i + 1]! - (i % 3), kind].join(',');
    });
    writeFileSync(join(scratch, 'named.csv'), `x,y,kind\n${rows.join('\n')}\n`);
    const train = await cli([
      'train',
      ...['--data', 'named.csv', '--dataset-option', 'labelColumn=kind'],
      ...['--head', 'softmax', '--hidden-units', '16', '--max-epochs', '2', '--out', 'named', '--json'],
    ]);
    expect(train.code, train.stderr).toBe(0);
  }, 60_000);

  const exportNamed = async (names: readonly string[], out: string) => {
    writeFileSync(join(scratch, `${out}.txt`), `${names.join('\n')}\n`);
    const run = await cli(['export', 'named', '--out', `${out}.onnx`, '--no-verify', '--class-names', `${out}.txt`]);
    return { run, written: existsSync(join(scratch, `${out}.onnx`)) };
  };

  it("refuses the run's names in another order: the model's outputs stay in the run's order", async () => {
    const { run, written } = await exportNamed(NAMES, 'reordered');
    expectError(
      run,
      2,
      /^error E_INVALID_INPUT: --class-names reordered.txt puts a class name of the run at another position: position 0 is "east" in the run but "north" in reordered.txt \(the run's position 1\);.*\nhint: Leave out --class-names: the model keeps the run's names\. For another order, train again with the classNames dataset option/,
    );
    expect(written).toBe(false);
  });

  it("refuses names that put one of the run's names at another position among new ones", async () => {
    const { run, written } = await exportNamed(['west', 'east', 'up'], 'overlap');
    expectError(run, 2, /position 1 is "north" in the run but "east" in overlap.txt \(the run's position 0\)/);
    expect(written).toBe(false);
  });

  it("accepts the run's own names in the run's order, without a warning", async () => {
    const { run } = await exportNamed(RUN_NAMES, 'same-order');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const exported = await createSession(join(scratch, 'same-order.onnx'));
    try {
      expect(exported.classNames).toEqual(RUN_NAMES);
    } finally {
      await exported.release();
    }
  });

  it("accepts a renaming, with one warning line showing each class's old and new name", async () => {
    const { run } = await exportNamed(['East', 'north', 'South'], 'renamed');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('warning: --class-names renamed.txt renames the run\'s classes: 0: "east" -> "East", 2: "south" -> "South"\n');
    const exported = await createSession(join(scratch, 'renamed.onnx'));
    try {
      expect(exported.classNames).toEqual(['East', 'north', 'South']);
    } finally {
      await exported.release();
    }
    // Under --json the one stdout line stays the result object.
    const json = await cli(['export', 'named', '--out', 'renamed-json.onnx', '--no-verify', '--class-names', 'renamed.txt', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ classNames: 3 });
  });
});

describe('hyperproto predict', () => {
  it('classifies .npy, .csv and .jsonl rows alike, as the runtime does', async () => {
    await writeMatrixNpy(join(scratch, 'rows.npy'), features);
    const rows = rowsOf(features);
    writeFileSync(
      join(scratch, 'rows.csv'),
      `${Array.from({ length: WIDTH }, (_, i) => `f${i}`).join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`,
    );
    writeFileSync(join(scratch, 'rows.jsonl'), rows.map((r, i) => JSON.stringify(i % 2 ? r : { features: r })).join('\n'));
    const expected = await session.predict(features, { topK: 2 });
    for (const file of ['rows.npy', 'rows.csv', 'rows.jsonl']) {
      const run = await cli(['predict', 'model.onnx', '--input', file, '--top-k', '2', '--json', '--batch-size', '16']);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result).toMatchObject({ provider: 'cpu', skipped: [], rows: 40, model: { head: 'hpn', strategy: 'random', classes: 3 } });
      expect(result.predictions.map((p: { label: number }) => p.label)).toEqual([...expected.labels]);
      expect(result.predictions[0].className).toBe(NAMES[expected.labels[0]!]);
      expect(result.predictions[0].topK.map((t: { label: number }) => t.label)).toEqual([...expected.topK!.labels.subarray(0, 2)]);
    }
    const table = await cli(['predict', 'model.onnx', '--input', 'rows.csv']);
    expect(table.stdout.split('\n')[0]).toBe('row\tlabel\tclass\tscore');
    expect(table.stdout.trim().split('\n')).toHaveLength(41);
  });

  it('keeps the table one line per row and one column per field, whatever the class names hold', async () => {
    // Spaces, tabs, newlines and backslashes, and what a terminal would obey: ESC sequences (clear the screen, set
    // the clipboard), a bell, a right-to-left override.
    const awkward = ['two words\ttab', 'line\nbreak\\ \x1b[2J\x1b]52;c;aGk=\x07', 'bidi\u202etxt.exe'];
    writeFileSync(join(scratch, 'awkward.json'), JSON.stringify(awkward));
    const exported = await cli(['export', 'run', '--out', 'awkward.onnx', '--top-k', '2', '--class-names', 'awkward.json']);
    expect(exported.code, exported.stderr).toBe(0);
    const table = await cli(['predict', 'awkward.onnx', '--input', 'rows.csv', '--top-k', '2']);
    expect(table.code, table.stderr).toBe(0);
    const [header, ...lines] = table.stdout.trim().split('\n');
    expect(header).toBe('row\tlabel\tclass\tscore\ttop1\ttop2');
    expect(lines).toHaveLength(40);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach the terminal
    expect(table.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
    const fromTsv = (text: string) =>
      text.replace(/\\(x[0-9a-f]{2}|u[0-9a-f]{4}|[tnr\\])/g, (_, c: string) =>
        c.length > 1
          ? String.fromCharCode(Number.parseInt(c.slice(1), 16))
          : (({ t: '\t', n: '\n', r: '\r' } as Record<string, string>)[c] ?? c),
      );
    for (const line of lines) {
      const [, label, name, , top1] = line.split('\t');
      expect(line.split('\t')).toHaveLength(6);
      expect(fromTsv(name!)).toBe(awkward[Number(label)]);
      expect(fromTsv(top1!.slice(0, top1!.lastIndexOf(':')))).toBe(awkward[Number(label)]);
    }
  });

  it('names the problem with a bad model or input file', async () => {
    const model = readFileSync(join(scratch, 'model.onnx'));
    writeFileSync(join(scratch, 'truncated.onnx'), model.subarray(0, Math.floor(model.length / 2)));
    writeFileSync(join(scratch, 'text.onnx'), 'this is not a model\n');
    const row = (n: number) => Array.from({ length: n }, (_, i) => (i / n).toFixed(3)).join(',');
    writeFileSync(join(scratch, 'narrow.csv'), `${row(299)}\n${row(299)}\n`);
    writeFileSync(
      join(scratch, 'nan.csv'),
      `${row(300)}\n${row(300)}\n${row(300).replace(/^([^,]*,){5}[^,]*/, (m) => m.replace(/[^,]*$/, 'NaN'))}\n`,
    );
    writeFileSync(join(scratch, 'ragged.jsonl'), `[${row(300)}]\n[${row(299)}]\n`);
    writeFileSync(join(scratch, 'empty.csv'), '\n');
    writeFileSync(join(scratch, 'words.csv'), `${row(300)}\n${row(299)},x\n`);
    writeFileSync(join(scratch, 'rows.txt'), row(300));
    expectError(
      await cli(['predict', 'truncated.onnx', '--input', 'rows.csv']),
      2,
      /truncated\.onnx is not a usable ONNX model: the file is truncated/,
    );
    expectError(await cli(['predict', 'text.onnx', '--input', 'rows.csv']), 2, /text\.onnx is not a usable ONNX model/);
    expectError(await cli(['predict', 'missing.onnx', '--input', 'rows.csv']), 3, /cannot read the model missing\.onnx: no such file/);
    expectError(
      await cli(['predict', 'model.onnx', '--input', 'narrow.csv']),
      2,
      /narrow\.csv has rows of 299 features; the model expects 300/,
    );
    expectError(
      await cli(['predict', 'model.onnx', '--input', 'nan.csv']),
      2,
      /nan\.csv line 3, column 6: "NaN" marks a missing value; every feature needs a value \(fill in or drop rows with missing values\)/,
    );
    expectError(
      await cli(['predict', 'model.onnx', '--input', 'ragged.jsonl']),
      2,
      /ragged\.jsonl line 2 has 299 features but line 1 has 300; every row needs the same number/,
    );
    expectError(await cli(['predict', 'model.onnx', '--input', 'empty.csv']), 2, /empty\.csv is empty/);
    expectError(
      await cli(['predict', 'model.onnx', '--input', 'words.csv']),
      2,
      /words\.csv line 2, column 300: "x" is not a decimal number/,
    );
    expectError(await cli(['predict', 'model.onnx', '--input', 'rows.txt']), 2, /unknown input type "\.txt"; use \.npy, \.csv, \.jsonl/);
    expectError(await cli(['predict', 'model.onnx', '--input', 'none.csv']), 3, /cannot read none\.csv: no such file/);
    expectError(await cli(['predict', 'model.onnx', '--input', 'rows.csv', '--ep', 'tpu']), 2, /--ep tpu is not an execution provider/);
  });

  it('asks for the CUDA install where CUDA is missing, and falls back to the CPU only when allowed', async () => {
    const refused = await cli(['predict', 'model.onnx', '--input', 'rows.npy', '--ep', 'cuda']);
    expectError(refused, 4, /\[cuda\] the CUDA execution provider is not installed/);
    expect(refused.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    const fallback = await cli(['predict', 'model.onnx', '--input', 'rows.npy', '--ep', 'cuda', '--allow-fallback', '--json']);
    expect(fallback.code, fallback.stderr).toBe(0);
    const result = JSON.parse(fallback.stdout);
    expect(result.provider).toBe('cpu');
    expect(result.skipped[0]).toMatchObject({ provider: 'cuda', reason: expect.stringMatching(/not installed/) });
  });
});

describe('hyperproto serve', () => {
  let server: ChildProcess;
  let base: string;
  let stderr = '';
  const exited = () =>
    new Promise<number | null>((resolve) =>
      server.exitCode !== null ? resolve(server.exitCode) : server.once('exit', (code) => resolve(code)),
    );

  beforeAll(async () => {
    server = spawn('node', [CLI_BIN, 'serve', 'model.onnx', '--port', '0', '--json', '--max-rows', '64', '--body-limit', '400000'], {
      cwd: scratch,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stderr!.on('data', (chunk) => (stderr += chunk));
    const ready = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      server.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const info = JSON.parse(ready);
    expect(info).toMatchObject({ provider: 'cpu', model: { classes: 3, inputWidth: WIDTH } });
    base = info.url;
  });
  afterAll(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  const post = async (body: string, contentType = 'application/json') => {
    const response = await fetch(`${base}/v1/predict`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('answers concurrent clients correctly, and survives hundreds of malformed requests', async () => {
    const rows = rowsOf(features);
    const expected = await session.predict(features, { topK: 2 });
    const requests = Array.from({ length: 200 }, (_, i) => ({ start: i % 40, count: 1 + (i % 3) }));
    const replies = await Promise.all(
      requests.map(({ start, count }) => post(JSON.stringify({ rows: rows.slice(start, start + count), topK: 2 }))),
    );
    replies.forEach((reply, i) => {
      expect(reply.status).toBe(200);
      const { start } = requests[i]!;
      expect(reply.body.predictions.map((p: any) => p.label)).toEqual([
        ...expected.labels.subarray(start, start + reply.body.predictions.length),
      ]);
      expect(reply.body.predictions[0].className).toBe(NAMES[expected.labels[start]!]);
    });

    const good = rows[0]!;
    const malformed: [string, string?][] = [
      [JSON.stringify({ rows: [good.slice(1)] })],
      [JSON.stringify({ rows: [good, good.slice(3)] })],
      [JSON.stringify({ rows: [] })],
      [`{"rows": [[1e999${',0'.repeat(WIDTH - 1)}]]}`],
      [JSON.stringify({ rows: Array.from({ length: 65 }, () => good) })],
      ['{"rows": [[1,'],
      [JSON.stringify({ rows: [good] }), 'text/plain'],
      [JSON.stringify({ rows: [good], topK: 0 })],
      [JSON.stringify({ rows: 'none' })],
    ];
    for (let round = 0; round < 30; round++) {
      const replies = await Promise.all(malformed.map(([body, type]) => post(body, type)));
      for (const reply of replies) {
        expect(reply.status).toBeGreaterThanOrEqual(400);
        expect(reply.status).toBeLessThan(500);
        expect(typeof reply.body.error.message).toBe('string');
      }
    }
    // Over the body limit: the server answers 413 and may close the socket while the client is still sending,
    // which a client sees as EPIPE/ECONNRESET; either way the server must keep serving.
    const oversized = JSON.stringify({ rows: Array.from({ length: 64 }, () => good), pad: 'x'.repeat(400_000) });
    for (let i = 0; i < 5; i++) {
      const status = await post(oversized).then(
        (reply) => reply.status,
        (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
      );
      expect([413, 'EPIPE', 'ECONNRESET']).toContain(status);
    }
    const after = await post(JSON.stringify({ rows: [good] }));
    expect(after.status).toBe(200);
    expect(after.body.predictions[0].label).toBe(expected.labels[0]);
    expect((await (await fetch(`${base}/healthz`)).json()) as unknown).toEqual({ status: 'ok', provider: 'cpu' });
  });

  it('on SIGTERM finishes the request in flight and exits 0', async () => {
    const body = JSON.stringify({ rows: rowsOf(features).slice(0, 2) });
    const request = await startPredictRequest(new URL(base), body, 100);
    // Long enough for the server to have read the headers on a busy machine: the request is then in flight.
    await new Promise((r) => setTimeout(r, 300));
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    request.finish();
    expect(await request.response).toMatch(/^HTTP\/1\.1 200/);
    expect(await exited()).toBe(0);
    // With --json the stop is said by the exit alone: no message on stderr.
    expect(stderr).not.toMatch(/SIGTERM: stopping/);
  });

  it('refuses CUDA without the fallback and names the install', async () => {
    const run = await cli(['serve', 'model.onnx', '--port', '0', '--ep', 'cuda']);
    expectError(run, 4, /CUDA execution provider is not installed/);
    expect(run.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });
});
