import { closeSync, linkSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';

export const LOCK_FILE = 'experiment.lock';

/** What a process killed while taking a lock can leave: its private draft, or a stale lock it had moved aside. */
const LOCK_DEBRIS = /^experiment\.lock\.(?:(\d+)\.draft|stale-(\d+))$/;

/** The lock and what taking it can leave behind: none of them is an experiment's data. */
export function isLockFile(name: string): boolean {
  return name === LOCK_FILE || LOCK_DEBRIS.test(name);
}

/** Removes lock drafts and moved-aside locks of processes that are gone; returns their names. */
export function removeLockDebris(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = LOCK_DEBRIS.exec(name);
    if (!match) continue;
    const pid = Number(match[1] ?? match[2]);
    if (pid === process.pid || processAlive(pid)) continue;
    unlinkSilently(join(dir, name));
    removed.push(name);
  }
  return removed;
}

/** Locks held by this process: its own pid in a lock file means "held" only if it is listed here. */
const heldHere = new Set<string>();

export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

/** Whether a process with this pid exists on this machine (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerAlive(owner: LockOwner, path: string): boolean {
  if (owner.host !== hostname()) return true; // cannot be checked from here: assume it runs
  return owner.pid === process.pid ? heldHere.has(path) : processAlive(owner.pid);
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string')
      return { pid: owner.pid, host: owner.host, started: String(owner.started ?? '?') };
  } catch {
    // unreadable or half-written: treated as stale below
  }
  return undefined;
}

/**
 * A lock file holding its owner's pid, so a second runner on the same results directory is refused. A lock whose
 * process is gone (killed, crashed) is stale and taken over. Creation is atomic (O_EXCL), and a takeover renames the
 * stale file away first, so that two runners taking over at once cannot both win.
 */
export class ResultsLock {
  private released = false;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
    /** The stale owner this lock replaced, if any. */
    readonly tookOverFrom: LockOwner | undefined,
  ) {}

  static acquire(path: string, describe: string): ResultsLock {
    const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
    const text = `${JSON.stringify(owner)}\n`;
    let tookOverFrom: LockOwner | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (createExclusive(path, text)) {
        heldHere.add(path);
        return new ResultsLock(path, owner, tookOverFrom);
      }
      const existing = readOwner(path);
      if (existing && ownerAlive(existing, path)) {
        throw new HyperprotoError(
          ErrorCode.Io,
          `${describe} is in use by another hyperproto experiment (pid ${existing.pid} on ${existing.host}, since ${existing.started})`,
          {
            hint: `Wait for it to finish, or run in another directory. If no experiment is running there, delete ${path}.`,
          },
        );
      }
      // Stale: move it aside under a name only this process uses, then check what was moved.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
      } catch {
        continue; // someone else moved it first: try again
      }
      const moved = readOwner(aside);
      if (moved && ownerAlive(moved, path)) {
        // Another runner's fresh lock was moved by mistake: put it back and give way.
        try {
          linkSync(aside, path);
        } catch {
          // it will find its lock gone when it releases; nothing better to do
        }
        unlinkSilently(aside);
        throw new HyperprotoError(ErrorCode.Io, `${describe} is in use by another hyperproto experiment (pid ${moved.pid})`, {
          hint: 'Wait for it to finish, or run in another directory.',
        });
      }
      unlinkSilently(aside);
      tookOverFrom = moved ?? existing;
    }
    throw new HyperprotoError(ErrorCode.Io, `cannot take the lock ${path}: it keeps changing`, {
      hint: 'Is another experiment starting in the same directory?',
    });
  }

  /** Removes the lock if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    const current = readOwner(this.path);
    if (current?.pid === this.owner.pid && current.started === this.owner.started) unlinkSilently(this.path);
  }
}

/** Writes the owner to a private file and links it into place: the lock never exists half-written. */
function createExclusive(path: string, text: string): boolean {
  const draft = `${path}.${process.pid}.draft`;
  try {
    const fd = openSync(draft, 'w');
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new HyperprotoError(ErrorCode.Io, `cannot create the lock ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    unlinkSilently(draft);
  }
}

function unlinkSilently(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
