// The model path a command line or a server is given: only a regular file (through symlinks) of at most
// MAX_MODEL_BYTES is read, and one that does not start as protobuf is refused before the rest of it is read. A named
// pipe would hang the reader, a device such as /dev/zero would fill memory until the process dies, and a large
// sparse file would be read whole (seconds, gigabytes) for the checker to refuse its first byte.
import { execFileSync } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ErrorCode } from '@hyperproto/core';
import { MAX_MODEL_BYTES } from '@hyperproto/model-contract';
import { afterEach, beforeEach, describe, expect, it, type TestContext } from 'vitest';
import { createSession, type SessionOptions } from './index.js';
import { startWorkerSession } from './worker-session.js';

const fixture = (name: string) => fileURLToPath(new URL(`./test-fixtures/${name}`, import.meta.url));
const SOFTMAX = fixture('softmax-8x5-top3.onnx');
// The worker thread runs the built script, as worker-session.test.ts explains.
const SCRIPT = pathToFileURL(fileURLToPath(new URL('../dist/session-worker.js', import.meta.url)));
const openWorker = (model: string, options: SessionOptions = {}) => startWorkerSession(model, options, SCRIPT);

/** What a refusal must arrive within: the checks read no more than a few bytes of the file. */
const PROMPTLY_MS = 3000;

let dir: string;
const fifos: string[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hyperproto-model-file-'));
});
afterEach(async () => {
  // Should a reader be blocked opening a pipe (the fault these tests catch), a writer that opens and closes it lets
  // that reader see the end of the file, so that the process is not left with a thread stuck in open().
  for (const fifo of fifos.splice(0)) {
    const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
    await writer?.close();
  }
  await rm(dir, { recursive: true, force: true });
});

/**
 * Where this system makes a named pipe (`mkfifo`), its path; where it cannot, the test is skipped saying why, except
 * under CI=true, where the check must run.
 */
function namedPipe(context: TestContext, name: string): string | undefined {
  const path = join(dir, name);
  try {
    execFileSync('mkfifo', [path], { stdio: 'pipe' });
  } catch (error) {
    const reason = `mkfifo is not available here (${(error as Error).message.split('\n')[0]})`;
    if (process.env.CI === 'true') throw new Error(`${reason}; CI must run the named-pipe checks`);
    console.warn(`skipped: ${context.task.name}: ${reason}`);
    context.skip();
    return undefined;
  }
  fifos.push(path);
  return path;
}

/** /dev/zero, or a skip saying why (a failure under CI=true) where the system has none. */
function devZero(context: TestContext): string {
  if (existsSync('/dev/zero')) return '/dev/zero';
  if (process.env.CI === 'true') throw new Error('/dev/zero does not exist; CI must run the device checks');
  console.warn(`skipped: ${context.task.name}: this system has no /dev/zero`);
  context.skip();
  return '';
}

/** The refusal of opening `model`, and how long it took. */
async function refusal(opening: Promise<{ release(): Promise<void> }>): Promise<{ error: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const error = await opening.then(
    async (session) => {
      await session.release();
      throw new Error('expected a refusal');
    },
    (e: unknown) => e as Record<string, unknown>,
  );
  return { error, ms: performance.now() - started };
}

const notRegular = (path: string, kind: string) => ({
  name: 'HyperprotoError',
  code: ErrorCode.Io,
  message: `cannot read the model ${path}: it is ${kind}, not a regular file; give the path of an ONNX model file`,
});
const PIPE_HINT = 'A model is read from a file: pipes and devices cannot be read as one. Save the model to a file and give its path.';

describe('createSession reads a model path only if it names a regular file', () => {
  it('refuses a named pipe at once, saying what it is', async (context) => {
    const fifo = namedPipe(context, 'model.onnx');
    if (!fifo) return;
    const { error, ms } = await refusal(createSession(fifo));
    expect(error).toMatchObject({ ...notRegular(fifo, 'a named pipe (FIFO)'), hint: PIPE_HINT });
    expect(ms).toBeLessThan(PROMPTLY_MS);
  }, 10_000);

  it('refuses /dev/zero, given as it is or through a symlink, without reading from it', async (context) => {
    const zero = devZero(context);
    const link = join(dir, 'zero.onnx');
    await symlink(zero, link);
    for (const path of [zero, link]) {
      const { error, ms } = await refusal(createSession(path));
      expect(error).toMatchObject({ ...notRegular(path, 'a character device'), hint: PIPE_HINT });
      expect(ms).toBeLessThan(PROMPTLY_MS);
    }
  }, 10_000);

  it('refuses a directory', async () => {
    const folder = join(dir, 'model.onnx');
    await mkdir(folder);
    const { error } = await refusal(createSession(folder));
    expect(error).toMatchObject(notRegular(folder, 'a directory'));
    expect(error.hint).toBeUndefined();
  });

  it('reads a model through a symlink, and through a chain of them', async () => {
    await symlink(SOFTMAX, join(dir, 'link.onnx'));
    await symlink(join(dir, 'link.onnx'), join(dir, 'link2.onnx'));
    for (const path of [join(dir, 'link.onnx'), join(dir, 'link2.onnx')]) {
      const session = await createSession(path);
      try {
        expect(session).toMatchObject({ source: path, classes: 5, inputWidth: 8 });
        expect((await session.predict([[1, 2, 3, 4, 5, 6, 7, 8]])).labels).toHaveLength(1);
      } finally {
        await session.release();
      }
    }
  });

  it('names a dangling symlink or a missing file as missing', async () => {
    await symlink(join(dir, 'gone.onnx'), join(dir, 'dangling.onnx'));
    for (const path of [join(dir, 'dangling.onnx'), join(dir, 'none.onnx')]) {
      const { error } = await refusal(createSession(path));
      expect(error).toMatchObject({ code: ErrorCode.Io, message: `cannot read the model ${path}: no such file` });
    }
  });
});

describe('createSession refuses a large file by its size or its first bytes, before reading it whole', () => {
  it('a file larger than MAX_MODEL_BYTES (2 GiB), by its size alone', async () => {
    // Sparse: the file takes no disk space, and is never read.
    const big = join(dir, 'big.onnx');
    await writeFile(big, '');
    await truncate(big, MAX_MODEL_BYTES + 1);
    const { error, ms } = await refusal(createSession(big));
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: `cannot read the model ${big}: it has 2,147,483,648 bytes (2.0 GiB), more than the 2,147,483,647 bytes (2 GiB) a model file can have`,
      hint: expect.stringMatching(
        /^An exported model is far smaller: check that you gave the model file, or export it again with exportOnnx /,
      ),
    });
    expect(ms).toBeLessThan(PROMPTLY_MS);
  }, 10_000);

  it('a file of 1.9 GB of zeros, by its first byte, as the whole file would be refused', async () => {
    const zeros = join(dir, 'zeros.onnx');
    await writeFile(zeros, '');
    await truncate(zeros, 1_900_000_000);
    const { error, ms } = await refusal(createSession(zeros));
    expect(error).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `${zeros} is not a usable ONNX model: byte 0 does not start a protobuf field, so this is not an ONNX (protobuf) file`,
    });
    expect(ms).toBeLessThan(PROMPTLY_MS);
  }, 10_000);

  it('a file whose start is a model and the rest zeros is read whole, and refused where the zeros start', async () => {
    const model = await open(SOFTMAX, 'r');
    const bytes = await model.readFile();
    await model.close();
    const padded = join(dir, 'padded.onnx');
    await writeFile(padded, bytes);
    await truncate(padded, bytes.length + 100_000);
    const { error } = await refusal(createSession(padded));
    expect(error).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `${padded} is not a usable ONNX model: byte ${bytes.length} does not start a protobuf field, so this is not an ONNX (protobuf) file`,
    });
  });
});

describe('a worker session (serve) refuses the same paths', () => {
  it('a named pipe, at once', async (context) => {
    const fifo = namedPipe(context, 'served.onnx');
    if (!fifo) return;
    const { error, ms } = await refusal(openWorker(fifo));
    expect(error).toMatchObject(notRegular(fifo, 'a named pipe (FIFO)'));
    expect(ms).toBeLessThan(PROMPTLY_MS + 2000);
  }, 15_000);
});
