import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { writeFileAtomic } from '@hyperproto/npy';

/** What every finished run directory holds: --force replaces a directory only when it has all of them. */
const RUN_MARKERS = ['model', 'spec.json', 'metrics.json'] as const;
/** Everything a run writes (see run-files.ts); --force deletes nothing else, so a directory with more is refused. */
const RUN_FILES: readonly string[] = [...RUN_MARKERS, 'history.json', 'prototypes.npy'];

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
        `--out ${target} is not a hyperproto run directory (it has no ${missing.join(', ')}); --force replaces only an earlier run and would have deleted what it holds: ${listed(entries)}`,
        { hint: 'Choose another --out, or empty or remove the directory yourself.' },
      );
    }
    const others = entries.filter((name) => !RUN_FILES.includes(name));
    if (others.length > 0) {
      throw new HyperprotoError(
        ErrorCode.Io,
        `--out ${target} holds files that a run does not write (${listed(others)}); --force would delete them`,
        { hint: 'Move those files out of the directory, or choose another --out.' },
      );
    }
    let staging: string;
    try {
      await mkdir(dirname(absolute), { recursive: true });
      // Unique per open, so runs started together (in one process or several) never share a staging directory.
      staging = await mkdtemp(join(dirname(absolute), `.${basename(absolute)}.partial-${process.pid}-`));
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
      // rename() replaces only an empty directory: a run that another process finished meanwhile is never lost.
      try {
        await rename(this.staging, this.target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw error;
        const kept = `${this.target}.${process.pid}`;
        await rename(this.staging, kept);
        throw new HyperprotoError(
          ErrorCode.Io,
          `--out ${this.target} was written by another process while this run was working; this run was saved to ${kept} instead`,
          { hint: 'Compare the two runs and keep the one you want; give each concurrent run its own --out.' },
        );
      }
    }
    return this.target;
  }

  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}

/** The first few names in order, and how many more: enough to recognise a directory without flooding the message. */
function listed(names: readonly string[]): string {
  const sorted = [...names].sort();
  const shown = sorted.slice(0, 5).join(', ');
  return sorted.length > 5 ? `${shown} and ${sorted.length - 5} more (${sorted.length} in all)` : shown;
}
