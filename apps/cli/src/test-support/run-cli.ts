import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built command, as users run it. */
export const CLI_BIN = join(resolve(fileURLToPath(import.meta.url), '../../..'), 'dist/bin.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI in `cwd` with CI=true (no progress bars) and collects its exit code and output. */
export function runCli(args: string[], cwd: string): Promise<CliRun> {
  return new Promise((done) => {
    execFile('node', [CLI_BIN, ...args], { cwd, env: { ...process.env, CI: 'true' }, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
