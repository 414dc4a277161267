// The worker session against createSession on the same models: the same facts, answers and errors, with the
// inference on a thread of its own. The thread runs the built script (dist/session-worker.js), as a deployment
// runs it: vitest runs these sources, which a worker thread cannot load.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createMatrix, createRng, ErrorCode, type Matrix } from '@hyperproto/core';
import { ContractErrorCode } from '@hyperproto/model-contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSession,
  cudaProviderInstalled,
  type FeatureInput,
  InvalidFeaturesError,
  ModelAnswersError,
  ModelContractError,
  type ModelSession,
  type PredictOptions,
  type Prediction,
  type SessionOptions,
} from './index.js';
import { reviveError, serializeError } from './worker-messages.js';
import { startWorkerSession } from './worker-session.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const SCRIPT = pathToFileURL(join(here, '../dist/session-worker.js'));
const fixture = (name: string) => fileURLToPath(new URL(`./test-fixtures/${name}`, import.meta.url));
const SOFTMAX = fixture('softmax-8x5-top3.onnx');
const HPN = fixture('hpn-8x6.onnx');
const BOTTLENECK = fixture('bottleneck-8x5.onnx');
const LIAR_LABEL = fixture('liar-label.onnx');

const openWorker = (model: string | Uint8Array, options: SessionOptions = {}) => startWorkerSession(model, options, SCRIPT);

const randomRows = (rows: number, width: number, seed: number): Matrix =>
  createMatrix(rows, width, createRng(seed).fillNormal(new Float32Array(rows * width), 0, 2));

/** What a session tells about itself, without its methods. */
const factsOf = (session: ModelSession) => Object.fromEntries(Object.entries(session).filter(([, value]) => typeof value !== 'function'));

/** The error a call is refused with. */
const refusal = (call: Promise<unknown>): Promise<Error> =>
  call.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: unknown) => error as Error,
  );

/** `promise`, or a rejection once `ms` have passed without it settling: a call never answered fails the test. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `text` as a regular expression matching itself. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The same error: class, name, code, message, hint and detail. */
function expectSameError(got: Error, expected: Error, what: string): void {
  const fields = (e: Error) => {
    const { code, hint, detail } = e as Error & { code?: string; hint?: string; detail?: unknown };
    return { class: e.constructor.name, name: e.name, code, message: e.message, hint, detail };
  };
  expect(got.constructor, what).toBe(expected.constructor);
  expect(fields(got), what).toEqual(fields(expected));
}

/** Index of the first i where `same(i)` is false, or -1: large arrays compared in a loop (deep equality is slow). */
function firstDifference(length: number, same: (i: number) => boolean): number {
  for (let i = 0; i < length; i++) if (!same(i)) return i;
  return -1;
}

function expectSamePrediction(got: Prediction, expected: Prediction): void {
  expect({ rows: got.rows, classes: got.classes, k: got.topK?.k, scores: got.scores !== undefined }).toEqual({
    rows: expected.rows,
    classes: expected.classes,
    k: expected.topK?.k,
    scores: expected.scores !== undefined,
  });
  const pairs = [
    [got.labels, expected.labels],
    [got.labelScores, expected.labelScores],
    [got.scores, expected.scores],
    [got.topK?.labels, expected.topK?.labels],
    [got.topK?.scores, expected.topK?.scores],
  ] as const;
  for (const [a, b] of pairs) {
    if (!a || !b) continue;
    expect(a.constructor).toBe(b.constructor);
    expect(a.length).toBe(b.length);
    expect(firstDifference(a.length, (i) => Object.is(a[i], b[i]))).toBe(-1);
  }
}

let scratch = '';
let inThread: ModelSession;
let worker: ModelSession;
beforeAll(async () => {
  for (const file of ['session-worker', 'worker-session', 'worker-messages', 'model-session']) {
    const built = join(here, '../dist', `${file}.js`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(here, `${file}.ts`)).mtimeMs)
      throw new Error(`dist/${file}.js is missing or older than its source: run \`pnpm --filter @hyperproto/runtime-node build\` first`);
  }
  scratch = mkdtempSync(join(tmpdir(), 'hyperproto-worker-session-'));
  inThread = await createSession(SOFTMAX);
  worker = await openWorker(SOFTMAX);
});
afterAll(async () => {
  await inThread?.release();
  await worker?.release();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('a worker session', () => {
  it('tells the same facts and gives the same answers as createSession, for every head, batch form and option', async () => {
    for (const path of [SOFTMAX, HPN, BOTTLENECK]) {
      const [own, threaded] = await Promise.all([createSession(path), openWorker(path)]);
      try {
        expect(factsOf(threaded)).toEqual(factsOf(own));
        expect(threaded.provider).toBe('cpu');
        for (const rows of [1, 3, 257]) {
          const features = randomRows(rows, 8, rows);
          const asArrays = Array.from({ length: rows }, (_, r) => [...features.data.subarray(r * 8, r * 8 + 8)]);
          const options: PredictOptions[] = [{}, { topK: 2 }, { topK: 1, scores: false }, { topK: own.classes, maxRows: rows }];
          for (const option of options) {
            const expected = await own.predict(features, option);
            expectSamePrediction(await threaded.predict(features, option), expected);
            expectSamePrediction(await threaded.predict(asArrays, option), expected);
            // A flat Float32Array, which toFeatureMatrix takes too.
            expectSamePrediction(await threaded.predict(features.data as unknown as FeatureInput, option), expected);
          }
        }
        expect(await threaded.placement()).toEqual(await own.placement());
      } finally {
        await Promise.all([own.release(), threaded.release()]);
      }
    }
  });

  it("copies the caller's rows, even a view into a larger buffer, and leaves them the caller's", async () => {
    const larger = randomRows(100, 8, 4);
    const view = createMatrix(10, 8, larger.data.subarray(80, 160));
    const before = Float32Array.from(larger.data);
    const [got, expected] = await Promise.all([worker.predict(view), inThread.predict(view)]);
    expectSamePrediction(got, expected);
    expect(larger.data.byteLength).toBe(800 * 4);
    expect(firstDifference(before.length, (i) => larger.data[i] === before[i])).toBe(-1);
    // The answer's arrays are the caller's to keep: handed over whole, not views into the thread's memory.
    expect(got.scores!.buffer.byteLength).toBe(got.scores!.byteLength);
  });

  it('refuses what createSession refuses, with the same error: class, code, message, hint and row/column detail', async () => {
    const row = () => Array.from({ length: 8 }, () => 0.5);
    const calls: [string, unknown, unknown][] = [
      ['wrong width', [row().slice(2)], undefined],
      ['not finite', [row(), [...row().slice(1), Number.NaN]], undefined],
      ['not finite, counted from firstRow', [row(), [...row().slice(1), Number.NaN]], { firstRow: 1000, source: 'the file' }],
      ['a string in a row', [[...row().slice(1), '3']], undefined],
      ['ragged', [row(), row().slice(1)], undefined],
      ['empty', [], undefined],
      ['not a batch', new Float64Array(16), undefined],
      ['too many rows', randomRows(11, 8, 1), { maxRows: 10 }],
      ['bad option', [row()], { maxRows: 0 }],
      ['options not an object', [row()], null],
      ['top-k beyond the classes', [row()], { topK: 6 }],
    ];
    for (const [what, features, options] of calls) {
      const call = (session: ModelSession) => refusal(session.predict(features as never, options as never));
      expectSameError(await call(worker), await call(inThread), what);
    }
    const wrong = await refusal(worker.predict([row(), [...row().slice(1), Number.NaN]]));
    expect(wrong).toBeInstanceOf(InvalidFeaturesError);
    expect((wrong as InvalidFeaturesError).detail).toEqual({ problem: 'not-finite', row: 1, column: 7 });
    const tooMany = await refusal(worker.predict(randomRows(11, 8, 1), { maxRows: 10 }));
    expect(tooMany).toMatchObject({
      code: ErrorCode.InvalidInput,
      detail: { problem: 'too-many-rows' },
      hint: 'Split the rows into smaller batches.',
    });
  });

  it('refuses the options and models createSession refuses, with the same error, before or after the thread starts', async () => {
    const bytes = readFileSync(SOFTMAX);
    const broken = new Uint8Array(bytes);
    broken.set(new TextEncoder().encode('"eel",'), Buffer.from(broken).indexOf('"eel"]'));
    const opens: [string, string | Uint8Array, SessionOptions][] = [
      ['threads', SOFTMAX, { intraOpThreads: -1 }],
      ['unknown provider', SOFTMAX, { providers: ['tpu' as 'cpu'] }],
      ['no provider', SOFTMAX, { providers: [] }],
      ['fallback not a boolean', SOFTMAX, { fallback: 1 as unknown as boolean }],
      ['log not a function', SOFTMAX, { log: 5 as unknown as () => void }],
      ['missing file', '/nonexistent/model.onnx', {}],
      ['empty bytes', new Uint8Array(), { source: 'm.onnx' }],
      ['an operator no export uses', LIAR_LABEL, {}],
      ['class names not JSON', broken, { source: 'broken.onnx' }],
    ];
    for (const [what, model, options] of opens) {
      const got = await refusal(openWorker(model, options));
      expectSameError(got, await refusal(createSession(model, options)), what);
      expect(got, what).toBeInstanceOf(ModelContractError);
    }
    expect(await refusal(openWorker(LIAR_LABEL))).toMatchObject({
      code: ErrorCode.InvalidInput,
      hint: expect.stringMatching(/^A hyperproto model keeps its weights inside the file/),
    });
  });

  it('keeps the event loop turning while an inference runs, where createSession holds it', async () => {
    // 400,000 rows of the 8-feature model: 100-300 ms of inference here, one thread each, on a busy 2-core machine.
    const ROWS = 400_000;
    const features = randomRows(ROWS, 8, 21);
    const [own, threaded] = await Promise.all([createSession(SOFTMAX, { intraOpThreads: 1 }), openWorker(SOFTMAX, { intraOpThreads: 1 })]);
    const ticksWhile = async (session: ModelSession) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      try {
        await session.predict(features, { scores: false });
      } finally {
        clearInterval(timer);
      }
      return ticks;
    };
    try {
      const held = await ticksWhile(own);
      const turning = await ticksWhile(threaded);
      expect(held).toBeLessThanOrEqual(1);
      expect(turning).toBeGreaterThanOrEqual(5);
    } finally {
      await Promise.all([own.release(), threaded.release()]);
    }
  });
});

describe('releasing a worker session while predictions run', () => {
  const ROWS = 200_000;

  it('lets the predictions already started finish with the right answers, then frees the session and ends the thread', async () => {
    const session = await openWorker(SOFTMAX);
    const features = randomRows(ROWS, 8, 11);
    const settled: string[] = [];
    const running = session.predict(features, { topK: 2 });
    const failing = refusal(session.predict(randomRows(2, 3, 1)));
    void running.then(() => settled.push('predict'));
    const release = session.release();
    const second = session.release();
    void release.then(() => settled.push('release'));
    void second.then(() => settled.push('second release'));
    const released = { code: ErrorCode.InvalidInput, message: `the session of ${SOFTMAX} was released and cannot be used any more` };
    await expect(session.predict(randomRows(1, 8, 1))).rejects.toMatchObject(released);
    await expect(session.placement()).rejects.toMatchObject(released);

    expectSamePrediction(await running, await inThread.predict(features, { topK: 2 }));
    expect((await failing).message).toMatch(/rows of 3 features; the model expects 8/);
    await expect(Promise.all([release, second])).resolves.toEqual([undefined, undefined]);
    expect(settled).toEqual(['predict', 'release', 'second release']);
    await expect(session.release()).resolves.toBeUndefined();
    await expect(session.predict(features)).rejects.toMatchObject(released);
  });
});

describe('a worker thread that ends unexpectedly', () => {
  /** The thread's script, after `before` (run first: a listener there hears each message ahead of the session). */
  const scriptAfter = (name: string, before: string) => {
    const path = join(scratch, `${name}.mjs`);
    writeFileSync(path, `import { parentPort } from 'node:worker_threads';\n${before}\nawait import(${JSON.stringify(SCRIPT.href)});\n`);
    return pathToFileURL(path);
  };
  /** A predict whose `source` says so ends the thread. */
  const dyingScript = () =>
    scriptAfter(
      'dying-worker',
      `parentPort.on('message', (message) => {
  if (message.type !== 'predict') return;
  if (message.options.source === 'throw') throw new Error('the test ends this thread');
  if (message.options.source === 'exit') process.exit(7);
});`,
    );

  it.each([
    ['throw', /ended unexpectedly \(it failed: the test ends this thread\)/],
    ['exit', /ended unexpectedly \(it exited with code 7\)/],
  ])(
    '(%s) fails the calls waiting on it and every later one with E_INTERNAL, and tells onUnexpectedEnd; release still resolves',
    async (how, said) => {
      const told: Error[] = [];
      const session = await startWorkerSession(SOFTMAX, { onUnexpectedEnd: (error) => told.push(error) }, dyingScript());
      const rows = randomRows(2, 8, 3);
      expectSamePrediction(await session.predict(rows), await inThread.predict(rows));
      const fatal = session.predict(rows, { source: how });
      // Sent after the message that ends the thread: never answered.
      const waiting = session.placement();
      const error = await refusal(fatal);
      expect(error).toBeInstanceOf(ModelContractError);
      expect(error).toMatchObject({ code: ErrorCode.Internal, hint: 'Create a new session to predict again.' });
      expect(error.message).toMatch(
        new RegExp(`^the worker thread running ${literally(SOFTMAX)} ${said.source}; the calls it was answering are lost$`),
      );
      // Told once, with the error the calls fail with.
      expect(told).toEqual([error]);
      expect(told[0]).toBe(error);
      await expect(waiting).rejects.toBe(error);
      await expect(session.predict(rows)).rejects.toBe(error);
      await expect(session.placement()).rejects.toBe(error);
      await expect(session.release()).resolves.toBeUndefined();
      expect(told).toHaveLength(1);
      // Released, it says so, as any released session does.
      await expect(session.predict(rows)).rejects.toThrow(/was released and cannot be used any more/);
    },
  );

  it('while opening the model, fails the opening with an opening failure, and does not tell onUnexpectedEnd', async () => {
    const told: Error[] = [];
    const error = await refusal(
      startWorkerSession(SOFTMAX, { onUnexpectedEnd: (e) => told.push(e) }, scriptAfter('exit-at-start', 'process.exit(3);')),
    );
    expect(error).toBeInstanceOf(ModelContractError);
    expect(error).toMatchObject({
      code: ErrorCode.Internal,
      message: `the worker thread opening ${SOFTMAX} ended unexpectedly (it exited with code 3) before the model was open`,
      hint: 'Nothing was opened. Open it again; should the thread end the same way, report it with this message.',
    });
    expect(told).toEqual([]);
  });

  it('during the release, before it answered, fails the calls still waiting; release resolves, onUnexpectedEnd is not told', async () => {
    const told: Error[] = [];
    const session = await startWorkerSession(
      SOFTMAX,
      { onUnexpectedEnd: (e) => told.push(e) },
      scriptAfter('exit-at-release', `parentPort.on('message', (message) => message.type === 'release' && process.exit(0));`),
    );
    // A placement loads a second session: still running when the release arrives and the thread ends.
    const placement = refusal(session.placement());
    await expect(session.release()).resolves.toBeUndefined();
    expect(await within(placement, 10_000, 'the placement')).toMatchObject({
      code: ErrorCode.Internal,
      message: `the worker thread running ${SOFTMAX} ended (it exited with code 0) before it answered every call made before the release`,
    });
    expect(told).toEqual([]);
  });
});

describe('a placement followed at once by a release', () => {
  it('is answered, and then the session released', async () => {
    const session = await openWorker(SOFTMAX);
    const settled: string[] = [];
    const placement = session.placement();
    void placement.then(() => settled.push('placement'));
    const release = session.release();
    void release.then(() => settled.push('release'));
    expect(await within(placement, 10_000, 'the placement')).toEqual(await inThread.placement());
    await release;
    expect(settled).toEqual(['placement', 'release']);
  });
});

describe('the process', () => {
  /** Runs `body` as an ES module in a new Node process with the built package imported as `runtime`. */
  const runScript = (
    name: string,
    body: string,
    nodeArgs: string[] = [],
  ): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> => {
    const path = join(scratch, name);
    const entry = pathToFileURL(join(here, '../dist/index.js')).href;
    writeFileSync(path, `import * as runtime from ${JSON.stringify(entry)};\nconst SOFTMAX = ${JSON.stringify(SOFTMAX)};\n${body}`);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, [...nodeArgs, path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: performance.now() - started });
      });
    });
  };

  it('is not kept alive by a session never released, but waits for a prediction still running', async () => {
    const run = await runScript(
      'forgotten.mjs',
      `const session = await runtime.createWorkerSession(SOFTMAX);
const rows = [new Array(8).fill(0.5), new Array(8).fill(-0.5)];
console.log('answered', (await session.predict(rows)).rows);
const many = { rows: 100000, cols: 8, data: new Float32Array(800000).fill(0.25) };
void session.predict(many).then((p) => console.log('late', p.rows));
`,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('answered 2\nlate 100000\n');
    expect(run.code).toBe(0);
  });

  it('goes on when the thread runs out of memory while opening the model, and says so as an opening failure', async () => {
    // The thread's heap has the process's limit: 64 MB here, filled before the session's script runs.
    const script = join(scratch, 'greedy-worker.mjs');
    writeFileSync(script, `const kept = [];\nfor (;;) kept.push(new Array(100_000).fill(1));\n`);
    const worker = pathToFileURL(join(here, '../dist/worker-session.js')).href;
    const run = await runScript(
      'out-of-memory.mjs',
      `const { startWorkerSession } = await import(${JSON.stringify(worker)});
try {
  await startWorkerSession(SOFTMAX, {}, new URL(${JSON.stringify(pathToFileURL(script).href)}));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message, hint: error.hint, cause: error.cause?.code }));
}
console.log('still running');
`,
      ['--max-old-space-size=64'],
    );
    expect(run.code).toBe(0);
    const [said, after] = run.stdout.trim().split('\n');
    expect(JSON.parse(said!)).toEqual({
      code: ErrorCode.Internal,
      message: expect.stringMatching(
        new RegExp(
          `^the worker thread opening ${literally(SOFTMAX)} ended unexpectedly \\(it failed: .*out of memory\\) before the model was open$`,
        ),
      ),
      hint: "Nothing was opened. Its JavaScript heap has the process's limit: raise it with node's --max-old-space-size=MB (or in NODE_OPTIONS).",
      cause: 'ERR_WORKER_OUT_OF_MEMORY',
    });
    expect(after).toBe('still running');
  });

  it('ends after release, with the answers of predictions made before it', async () => {
    const run = await runScript(
      'released.mjs',
      `const session = await runtime.createWorkerSession(SOFTMAX);
const pending = session.predict([new Array(8).fill(0.5)]);
await session.release();
console.log('released', (await pending).rows);
`,
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('released 1\n');
    expect(run.code).toBe(0);
  });
});

describe('errors crossing from the thread', () => {
  it('arrive as the class they were thrown as, with code, hint, detail and cause', () => {
    const cause = new RangeError('onnxruntime: out of range');
    const errors = [
      new InvalidFeaturesError('the batch: row 3, column 1 is NaN', { problem: 'not-finite', row: 3, column: 1 }, 'Send finite numbers.'),
      new ModelAnswersError(ContractErrorCode.Internal, 'm.onnx gave answers that break its own interface', { hint: 'Export it again.' }),
      new ModelContractError(ContractErrorCode.NoEngine, 'no execution provider could start', { cause, hint: 'Install CUDA.' }),
      Object.assign(new TypeError('not a function'), { code: 'ERR_X' }),
    ];
    for (const error of errors) {
      const revived = reviveError(structuredClone(serializeError(error)));
      expectSameError(revived, error, error.message);
      expect(revived.stack).toBe(error.stack);
    }
    const revived = reviveError(structuredClone(serializeError(errors[2])));
    expect(revived.cause).toBeInstanceOf(Error);
    expect(revived.cause).toMatchObject({ name: 'RangeError', message: 'onnxruntime: out of range' });
    expect(reviveError(structuredClone(serializeError('a string thrown')))).toMatchObject({ name: 'Error', message: 'a string thrown' });
    // InvalidFeaturesError's constructor takes no cause; one set on it crosses too.
    const features = new InvalidFeaturesError('row 0, column 0 is NaN', { problem: 'not-finite', row: 0, column: 0 });
    Object.defineProperty(features, 'cause', { value: cause, writable: true, configurable: true });
    const revivedFeatures = reviveError(structuredClone(serializeError(features)));
    expectSameError(revivedFeatures, features, 'features with a cause');
    expect(revivedFeatures.cause).toMatchObject({ name: 'RangeError', message: 'onnxruntime: out of range' });
    expect(Object.keys(revivedFeatures)).not.toContain('cause');
  });
});

describe.skipIf(cudaProviderInstalled())('CUDA where its provider is not installed, on a worker session', () => {
  it('falls back when allowed, telling options.log what createSession tells it, and refuses as createSession does when not', async () => {
    const options = (messages: string[]): SessionOptions => ({ providers: ['cuda', 'cpu'], fallback: true, log: (m) => messages.push(m) });
    const [toldOwn, toldWorker] = [[] as string[], [] as string[]];
    const [own, threaded] = await Promise.all([createSession(SOFTMAX, options(toldOwn)), openWorker(SOFTMAX, options(toldWorker))]);
    try {
      expect(toldWorker).toEqual(toldOwn);
      expect(toldWorker.join('\n')).toMatch(/cuda execution provider unavailable.*falling back to cpu/);
      expect(factsOf(threaded)).toEqual(factsOf(own));
      expect(threaded.skipped[0]).toMatchObject({ provider: 'cuda', reason: expect.stringMatching(/not installed/) });
    } finally {
      await Promise.all([own.release(), threaded.release()]);
    }
    const strict: SessionOptions = { providers: ['cuda', 'cpu'] };
    const error = await refusal(openWorker(SOFTMAX, strict));
    expectSameError(error, await refusal(createSession(SOFTMAX, strict)), 'no fallback');
    expect(error).toMatchObject({ code: ErrorCode.NoEngine });
  });
});
