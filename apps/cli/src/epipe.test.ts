import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { CLI_BIN } from './test-support/run-cli.js';

interface ClosedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the reader got before it left. */
  firstChunk: string;
  stderr: string;
}

/**
 * Runs the built CLI with its stdout (and, with `closeStderr`, its stderr) read by a reader that leaves: at once, or
 * after the first chunk, as `| head -1` does. The CLI's later writes then fail with EPIPE.
 */
function runWithReaderLeaving(args: string[], when: 'at-once' | 'after-first-chunk', closeStderr = false): Promise<ClosedRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let firstChunk = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    if (closeStderr) child.stderr.destroy();
    if (when === 'at-once') child.stdout.destroy();
    else
      child.stdout.once('data', (chunk: Buffer) => {
        firstChunk = chunk.toString('utf8');
        child.stdout.destroy();
      });
    child.once('error', fail);
    child.once('close', (code, signal) => done({ code, signal, firstChunk, stderr }));
  });
}

describe('a reader that closes the pipe early', () => {
  it('train --help exits 0 without a stack trace when stdout is closed before the help is written', async () => {
    const run = await runWithReaderLeaving(['train', '--help'], 'at-once');
    expect(run.stderr).toBe('');
    expect([run.code, run.signal]).toEqual([EXIT.ok, null]);
  });

  // The shape of `| head -1`; whether the help's second write comes before or after the reader leaves is a race, so
  // the case above is the one that always meets EPIPE.
  it('train --help exits 0 without a stack trace when the reader leaves after the first chunk (| head -1)', async () => {
    const run = await runWithReaderLeaving(['train', '--help'], 'after-first-chunk');
    expect(run.firstChunk.split('\n')[0]).toBe('Usage: hyperproto train [options]');
    expect(run.stderr).toBe('');
    expect([run.code, run.signal]).toEqual([EXIT.ok, null]);
  });

  it('keeps the exit code of a failing command when stdout and stderr are both closed (2>&1 | head -1)', async () => {
    const run = await runWithReaderLeaving(['train', '--no-such-flag'], 'at-once', true);
    expect([run.code, run.signal]).toEqual([EXIT.usage, null]);
  });
});
