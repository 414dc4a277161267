// Cooperative cancellation: each long command, started as users start it, stops within 2 s of a Ctrl-C with exit
// code 130 and leaves no staged (.partial-*) output behind.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMatrix, createRng } from '@hyperproto/core';
import { encodeNpy } from '@hyperproto/npy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN } from './test-support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-cancel-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(() => {
  // 20,000 x 300 random rows: inspecting them scans 2e8 pairs, far longer than a second.
  const rows = 20_000;
  const dims = 300;
  writeFileSync(join(scratch, 'big.npy'), encodeNpy(createMatrix(rows, dims, createRng(1).fillNormal(new Float32Array(rows * dims)))));
});

/** Starts the CLI, sends SIGINT after `afterMs`, and measures how long it takes to exit after that. */
function interrupt(args: string[], afterMs = 1000): Promise<{ code: number | null; stopSeconds: number; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn('node', [CLI_BIN, ...args], { cwd: scratch, env: { ...process.env, CI: 'true' } });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.resume();
    let sentAt = 0;
    const timer = setTimeout(() => {
      sentAt = performance.now();
      child.kill('SIGINT');
    }, afterMs);
    // A command that ignores the signal is killed, and the test then fails on its timing.
    const guard = setTimeout(() => child.kill('SIGKILL'), afterMs + 20_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(guard);
      done({ code, stopSeconds: sentAt ? (performance.now() - sentAt) / 1000 : -1, stderr });
    });
  });
}

const partials = () => readdirSync(scratch, { recursive: true }).filter((name) => String(name).includes('.partial-'));

describe('Ctrl-C stops every long command within 2 s with exit code 130', () => {
  it.each([
    ['train on a big gaussian', ['train', '--classes', '1000', '--head', 'softmax', '--out', 'run-train']],
    ['train with optimized prototypes', ['train', '--classes', '1000', '--head', 'hpn', '--prototypes', 'optimized', '--out', 'run-hpn']],
    ['prototypes --strategy spread', ['prototypes', '--strategy', 'spread', '--classes', '20000', '--dims', '100', '--out', 'spread.npy']],
    [
      'prototypes --strategy optimized',
      ['prototypes', '--strategy', 'optimized', '--classes', '5000', '--dims', '100', '--out', 'opt.npy'],
    ],
    [
      'prototypes --strategy orthogonal',
      ['prototypes', '--strategy', 'orthogonal', '--classes', '4000', '--dims', '4000', '--out', 'orth.npy'],
    ],
    ['prototypes inspect on a big file', ['prototypes', 'inspect', 'big.npy']],
    ['experiment', ['experiment', '--preset', 'seed-quick', '--out', 'grid', '--workers', '1']],
  ])(
    '%s',
    async (_name, args) => {
      const run = await interrupt(args);
      expect(run.stopSeconds, run.stderr).toBeGreaterThan(0);
      expect(run.code, run.stderr).toBe(130);
      // A grid's worker thread busy in a synchronous step is ended after a short grace period.
      expect(run.stopSeconds, run.stderr).toBeLessThan(2);
      expect(run.stderr).not.toMatch(/internal error| {4}at /);
      expect(partials()).toEqual([]);
    },
    40_000,
  );
});
