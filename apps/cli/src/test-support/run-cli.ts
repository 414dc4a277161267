import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built command, as users run it. */
export const CLI_BIN = join(resolve(fileURLToPath(import.meta.url), '../../..'), 'dist/bin.js');

/** The version of @hyperproto/core the CLI runs: what a plugin package's peer dependency must accept. */
export const coreVersion = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@hyperproto/core')), 'utf8')) as { version: string }
).version;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI in `cwd` with CI=true (no progress bars) and collects its exit code and output. */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      'node',
      [CLI_BIN, ...args],
      { cwd, env: { ...process.env, CI: 'true', ...env }, maxBuffer: 1 << 26 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}
