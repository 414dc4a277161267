import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { writeFileAtomic } from '@hyperproto/npy';

/** What every finished run directory holds: --force replaces a directory only when it has all of them. */
const RUN_MARKERS = ['model', 'spec.json', 'metrics.json'] as const;

/**
 * An output directory that appears complete or not at all: everything is written into a hidden sibling, which is
 * renamed into place only when the command succeeds. A failed or interrupted run leaves no directory that looks
 * finished.
 */
export class RunDirectory {
  private constructor(
    readonly target: string,
    readonly staging: string,
    private readonly replace: boolean,
  ) {}

  /** Checks the target and creates the staging directory now, so an unwritable --out fails before any work. */
  static async open(target: string, options: { force?: boolean } = {}): Promise<RunDirectory> {
    const absolute = resolve(target);
    const existing = await stat(absolute).catch(() => undefined);
    if (existing && !existing.isDirectory()) {
      throw new HyperprotoError(ErrorCode.Io, `--out ${target} exists and is not a directory`);
    }
    const entries = existing ? await readdir(absolute) : [];
    if (entries.length > 0 && !options.force) {
      throw new HyperprotoError(ErrorCode.Io, `--out ${target} already exists and is not empty`, {
        hint: 'Choose another --out, or pass --force to replace it once the new run has finished.',
      });
    }
    // --force deletes the old directory: only ever one that an earlier run wrote, never a directory of other files.
    const missing = RUN_MARKERS.filter((name) => !entries.includes(name));
    if (entries.length > 0 && missing.length > 0) {
      throw new HyperprotoError(
        ErrorCode.Io,
        `--out ${target} is not a hyperproto run directory (it has no ${missing.join(', ')}); --force replaces only an earlier run`,
        { hint: 'Choose another --out, or empty or remove the directory yourself.' },
      );
    }
    const staging = join(dirname(absolute), `.${basename(absolute)}.partial-${process.pid}`);
    try {
      await mkdir(dirname(absolute), { recursive: true });
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging);
    } catch (error) {
      throw new HyperprotoError(ErrorCode.Io, `cannot write to --out ${target}: ${(error as Error).message}`, { cause: error });
    }
    return new RunDirectory(absolute, staging, entries.length > 0);
  }

  path(name: string): string {
    return join(this.staging, name);
  }

  async writeJson(name: string, value: unknown): Promise<void> {
    await writeFileAtomic(this.path(name), `${JSON.stringify(value, null, 2)}\n`);
  }

  /** Moves the finished run into place (replacing an old one only now that the new one is whole). */
  async commit(): Promise<string> {
    if (this.replace) {
      const old = `${this.staging}.old`;
      await rename(this.target, old);
      await rename(this.staging, this.target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rm(this.target, { recursive: true, force: true });
      await rename(this.staging, this.target);
    }
    return this.target;
  }

  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
