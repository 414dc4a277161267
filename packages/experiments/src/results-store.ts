import { constants as bufferConstants } from 'node:buffer';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ErrorCode, fileErrorReason, HyperprotoError } from '@hyperproto/core';
import { writeFileAtomic } from '@hyperproto/npy';
import { removeCreatedDirectories } from './created-directories.js';
import { canonicalJson, compareGridRuns, describeGridDifferences, type GridChange } from './grid-difference.js';
import { parseGrid, type Grid } from './grid-schema.js';
import { recordProblem, type RunRecord } from './run-record.js';
import { isLockFile, LOCK_FILE, removeLockDebris, ResultsLock } from './results-lock.js';

export const RESULTS_FILE = 'results.jsonl';
export const GRID_FILE = 'grid.json';
export const FAILURES_FILE = 'failures.jsonl';
export const SESSIONS_FILE = 'sessions.jsonl';

/**
 * The longest line parseResults decodes: a longer one cannot become a string in Node (and no run record comes near
 * it), so it is refused by its byte length before decoding. UTF-8 never decodes to more UTF-16 units than it has bytes.
 */
export const MAX_LINE_BYTES = bufferConstants.MAX_STRING_LENGTH;

/** A last line that is not a whole record: a write cut short by a crash or power loss. */
export interface TornLine {
  /** 1-based line number. */
  readonly line: number;
  /** Byte offset where the line starts: everything before it is intact. */
  readonly offset: number;
  readonly bytes: number;
  readonly reason: string;
  /** The run it seems to belong to, when its key can still be read. */
  readonly key: string | undefined;
}

/** A second record of a run that already has one: the first is the one that counts. */
export interface DuplicateLine {
  readonly key: string;
  /** 1-based line number of this (later) record. */
  readonly line: number;
  /** 1-based line number of the record that is kept. */
  readonly firstLine: number;
  readonly offset: number;
  readonly bytes: number;
  /** Whether it is byte for byte the kept record. */
  readonly identical: boolean;
}

export interface StoredResults {
  /** One record per run key: the first line of each. */
  readonly records: RunRecord[];
  readonly torn: TornLine | undefined;
  readonly duplicates: readonly DuplicateLine[];
}

/** One line saying which runs have more than one record, for logs and reports. */
export function describeDuplicates(duplicates: readonly DuplicateLine[]): string {
  const listed = duplicates
    .slice(0, 10)
    .map((d) => `${d.key} at line ${d.line} (first at line ${d.firstLine}${d.identical ? ', identical' : ', different'})`);
  if (duplicates.length > listed.length) listed.push(`... and ${duplicates.length - listed.length} more`);
  return `${RESULTS_FILE} holds ${duplicates.length} duplicate record(s) of runs that already have one: ${listed.join('; ')}`;
}

/**
 * Parses results.jsonl. Only the last line may be cut short (appends are whole lines, so a crash can cut at most the
 * line being written): it has no line end, or is not JSON (e.g. zeros after a power loss). Any other bad line, also
 * a whole last line that is JSON but no run record, means the file was edited or broken some other way, and is
 * refused (E_INVALID_INPUT, naming the line) rather than silently dropped. A run key seen a second time is not
 * counted again: the first record wins and the later ones are listed in `duplicates`. `maxLineBytes` is
 * MAX_LINE_BYTES but for tests.
 */
export function parseResults(buffer: Buffer, source: string, maxLineBytes = MAX_LINE_BYTES): StoredResults {
  const records: RunRecord[] = [];
  const duplicates: DuplicateLine[] = [];
  const firstOf = new Map<string, { line: number; text: string }>();
  const hint =
    'Only the last line can be cut by a crash; this file was changed some other way. Restore it, or start a new results directory.';
  for (const { line, start, end, ended } of lineRanges(buffer)) {
    if (end - start > maxLineBytes) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `${source} line ${line} is ${end - start} bytes long, more than any run record (at most ${maxLineBytes} bytes are read as one)`,
        { hint },
      );
    }
    const text = buffer.subarray(start, end).toString('utf8');
    const isLast = !ended || end === buffer.length - 1;
    let problem: string | undefined;
    let record: unknown;
    // What a crash can leave: the line that was being written, cut short; or garbage where it was (not JSON).
    let cutShort = true;
    if (!ended) problem = 'no line end (the write was cut short)';
    else if (text.trim() === '') problem = 'empty line';
    else {
      try {
        record = JSON.parse(text);
        cutShort = false;
        problem = recordProblem(record);
      } catch (error) {
        problem = `not valid JSON (${(error as Error).message})`;
      }
    }
    if (problem) {
      if (!isLast || !cutShort) {
        throw new HyperprotoError(ErrorCode.InvalidInput, `${source} line ${line} is not a run record: ${problem}`, { hint });
      }
      return {
        records,
        duplicates,
        torn: {
          line,
          offset: start,
          bytes: end + (ended ? 1 : 0) - start,
          reason: problem,
          key: /"key":"([^"]+)"/.exec(text)?.[1],
        },
      };
    }
    const { key } = record as RunRecord;
    const first = firstOf.get(key);
    if (first) {
      duplicates.push({
        key,
        line,
        firstLine: first.line,
        offset: start,
        bytes: end + 1 - start,
        identical: first.text === text,
      });
    } else {
      firstOf.set(key, { line, text });
      records.push(record as RunRecord);
    }
  }
  return { records, torn: undefined, duplicates };
}

/** One line of a JSON-lines file, as bytes: `start` to `end` is its text, `ended` whether a line end follows it. */
export interface LineRange {
  /** 1-based. */
  readonly line: number;
  readonly start: number;
  readonly end: number;
  readonly ended: boolean;
}

/**
 * The lines of a JSON-lines file (results.jsonl, failures.jsonl, sessions.jsonl), not decoded: a reader checks a
 * line's length against MAX_LINE_BYTES before it makes a string of it.
 */
export function* lineRanges(buffer: Buffer): Generator<LineRange> {
  let start = 0;
  let line = 0;
  while (start < buffer.length) {
    line++;
    const newline = buffer.indexOf(0x0a, start);
    const end = newline === -1 ? buffer.length : newline;
    yield { line, start, end, ended: newline !== -1 };
    start = end + 1;
  }
}

/** Reads a results directory without changing it (for reports): duplicates are listed, and the first record counts. */
export async function readResultsDirectory(
  dir: string,
): Promise<{ grid: Grid; records: RunRecord[]; torn: TornLine | undefined; duplicates: readonly DuplicateLine[] }> {
  const gridPath = join(dir, GRID_FILE);
  let gridText: string;
  try {
    gridText = await readFile(gridPath, 'utf8');
  } catch (error) {
    throw new HyperprotoError(ErrorCode.Io, `${dir} is not a results directory: cannot read ${gridPath} (${(error as Error).message})`, {
      cause: error,
      hint: 'Give the --out directory of `hyperproto experiment`.',
    });
  }
  const grid = parseGrid(parseJson(gridText, gridPath), gridPath);
  const buffer = (await readIfPresent(join(dir, RESULTS_FILE))) ?? Buffer.alloc(0);
  return { grid, ...parseResults(buffer, join(dir, RESULTS_FILE)) };
}

export interface OpenStoreOptions {
  readonly grid: Grid;
  /**
   * Continue a directory that already holds results: of this grid, or of one this grid grows (it keeps every finished
   * run as it was, and may add runs and change or drop unfinished ones; grid.json becomes this grid).
   */
  readonly resume?: boolean;
  /** Where the grid came from, for messages (e.g. `preset seed`). */
  readonly gridSource?: string;
  readonly log?: (message: string) => void;
  /**
   * Refusals that need the finished records (e.g. that their data files are unchanged), run under the lock after the
   * grid checks and before anything is written: what it throws leaves the directory as it was.
   */
  readonly checkRecords?: (records: readonly RunRecord[]) => Promise<void>;
}

/**
 * The results of one grid in one directory: grid.json (what runs), results.jsonl (one whole record per finished
 * run, append-only), failures.jsonl (runs that failed, for the report) and a lock while a runner owns it.
 */
export class ResultsStore {
  private fd: number | undefined;
  private appendFailed: HyperprotoError | undefined;
  private readonly keys: Set<string>;

  private constructor(
    readonly dir: string,
    readonly grid: Grid,
    private readonly lock: ResultsLock,
    readonly records: RunRecord[],
    readonly torn: TornLine | undefined,
    /** Later records of runs that already had one, found when the store was opened (and removed from the file). */
    readonly duplicates: readonly DuplicateLine[],
    /** How a resumed directory's grid changed into this one; undefined when it makes the same runs, or is new. */
    readonly gridChange: GridChange | undefined,
  ) {
    this.keys = new Set(records.map((record) => record.key));
  }

  get resultsPath(): string {
    return join(this.dir, RESULTS_FILE);
  }

  static async open(target: string, options: OpenStoreOptions): Promise<ResultsStore> {
    const dir = resolve(target);
    const gridSource = options.gridSource ?? 'the requested grid';
    const log = options.log ?? (() => {});
    const existing = await stat(dir).catch(() => undefined);
    if (existing && !existing.isDirectory()) throw new HyperprotoError(ErrorCode.Io, `--out ${target} exists and is not a directory`);
    const names = existing
      ? await readdir(dir).catch((error: unknown) => {
          throw new HyperprotoError(ErrorCode.Io, `cannot read --out ${target}: ${fileErrorReason(error)}`, { cause: error });
        })
      : [];
    const entries = names.filter((name) => !isLockFile(name));
    const files = entries.filter((name) => !DRAFT.test(name));
    if (files.length > 0 && !files.includes(GRID_FILE)) {
      throw new HyperprotoError(ErrorCode.Io, `--out ${target} is not empty and holds no experiment (no ${GRID_FILE})`, {
        hint: 'Choose a new or empty directory for the results.',
      });
    }
    if (files.length === 0 && entries.length > 0 && !options.resume) {
      throw new HyperprotoError(
        ErrorCode.Io,
        `--out ${target} holds only an unfinished ${GRID_FILE} (${entries.join(', ')}): an experiment was stopped while it started`,
        { hint: 'Pass --resume to recover it (a complete draft is adopted, a broken one removed), or choose another --out.' },
      );
    }
    let created: string | undefined;
    try {
      created = await mkdir(dir, { recursive: true });
    } catch (error) {
      throw new HyperprotoError(ErrorCode.Io, `cannot create --out ${target}: ${(error as Error).message}`, { cause: error });
    }

    let lock: ResultsLock | undefined;
    try {
      lock = ResultsLock.acquire(join(dir, LOCK_FILE), target);
      if (lock.tookOverFrom) log(`took over a stale lock of pid ${lock.tookOverFrom.pid} (that process is gone)`);
      const debris = removeLockDebris(dir);
      if (debris.length > 0) log(`removed ${debris.join(', ')}, left by a process that is gone`);
      // Under the lock every draft is a killed session's: no live runner is between writing and renaming one.
      await recoverDrafts(dir, log);
      const gridPath = join(dir, GRID_FILE);
      const storedText = (await readIfPresent(gridPath))?.toString('utf8');
      const stored = storedText === undefined ? undefined : parseGrid(parseJson(storedText, gridPath), gridPath);
      if (stored && !options.resume) {
        const differences = describeGridDifferences(stored, options.grid, gridPath, gridSource);
        if (differences.length > 0) {
          throw new HyperprotoError(
            ErrorCode.InvalidOptions,
            `${target} holds results of a different grid:\n  ${differences.join('\n  ')}`,
            {
              hint: 'Use a new --out for this grid, or rerun the grid that made these results (--resume continues with a grid that keeps every finished run as it was).',
            },
          );
        }
        throw new HyperprotoError(ErrorCode.Io, `${target} already holds results of grid "${stored.name}"`, {
          hint: 'Pass --resume to continue it (finished runs are kept and skipped), or choose another --out.',
        });
      }

      const resultsPath = join(dir, RESULTS_FILE);
      const present = await readIfPresent(resultsPath);
      const buffer = present ?? Buffer.alloc(0);
      const { records, torn, duplicates } = parseResults(buffer, resultsPath);
      let gridChange: GridChange | undefined;
      if (stored) {
        // Checked before anything is written: a refused grid leaves the directory as it was.
        const { conflicts, ...change } = compareGridRuns(
          stored,
          options.grid,
          new Set(records.map((record) => record.key)),
          gridPath,
          gridSource,
        );
        if (conflicts.length > 0) {
          const shown = conflicts.slice(0, 10);
          if (conflicts.length > shown.length) shown.push(`... and ${conflicts.length - shown.length} more`);
          const which = conflicts.length === 1 ? '1 finished run is not in' : `${conflicts.length} finished runs are not in`;
          const was = conflicts.length === 1 ? 'it was' : 'they were';
          throw new HyperprotoError(
            ErrorCode.InvalidOptions,
            `${target} holds results of a different grid: ${which} ${gridSource} as ${was}:\n  ${shown.join('\n  ')}`,
            {
              hint: `Keep those runs as they are in ${gridPath} (new models, datasets and seeds may be added, unfinished runs changed), or use a new --out for this grid.`,
            },
          );
        }
        if (change.description) gridChange = change;
      }
      await options.checkRecords?.(records);
      // Opened before anything is written, so that a results.jsonl this user cannot write is refused (E_IO) with the
      // directory as it was, and no copy of a torn line is left by each attempt. A new one is made after grid.json.
      let fd = present ? openForAppend(resultsPath) : undefined;
      try {
        // Written when new, and rewritten when the grid grew or only labels or published numbers changed.
        if (storedText === undefined || canonicalJson(parseJson(storedText, gridPath)) !== canonicalJson(options.grid)) {
          await replaceFile(gridPath, `${JSON.stringify(options.grid, null, 2)}\n`);
        }
        if (gridChange) log(`${gridChange.description}; ${GRID_FILE} now holds ${gridSource}`);

        // A torn line and duplicates are found in the file, so it is open here.
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        if (torn) {
          // Keep the damaged bytes for inspection, then cut them off so appends continue on a clean line.
          const aside = `${resultsPath}.torn-${stamp}`;
          await replaceFile(aside, buffer.subarray(torn.offset));
          try {
            ftruncateSync(fd!, torn.offset);
            fsyncSync(fd!);
          } catch (error) {
            throw writeError(resultsPath, error);
          }
          log(
            `${RESULTS_FILE} line ${torn.line} was cut short (${torn.reason})${torn.key ? `: run ${torn.key} will be redone` : ''}; its ${torn.bytes} bytes are kept in ${aside}`,
          );
        }
        if (duplicates.length > 0) {
          // The later copies go aside first, then the file is replaced whole: a kill at any point loses no record.
          const aside = `${resultsPath}.duplicates-${stamp}`;
          await replaceFile(aside, Buffer.concat(duplicates.map((d) => buffer.subarray(d.offset, d.offset + d.bytes))));
          await replaceFile(resultsPath, withoutDuplicates(buffer.subarray(0, torn?.offset ?? buffer.length), duplicates));
          // Appends go to the file now in place, not to the one it replaced.
          closeSync(fd!);
          fd = undefined;
          log(`${describeDuplicates(duplicates)}; kept the first of each and moved the later lines to ${aside}`);
        }
        fd ??= openForAppend(resultsPath);
      } catch (error) {
        if (fd !== undefined) closeSync(fd);
        throw error;
      }
      const store = new ResultsStore(dir, options.grid, lock, records, torn, duplicates, gridChange);
      store.fd = fd;
      return store;
    } catch (error) {
      lock?.release();
      // A refusal leaves no directory this call made; one that existed before (--resume) stays.
      if (created) await removeCreatedDirectories(dir, created);
      throw error;
    }
  }

  /**
   * Appends one record as one whole line, flushed to disk before returning. After a failed append the store appends
   * no more records: the session is ending, and a record glued to a line the failure left would break the file.
   */
  append(record: RunRecord): void {
    if (this.appendFailed) throw this.appendFailed;
    try {
      appendLine(this.requireOpen(), this.resultsPath, `${JSON.stringify(record)}\n`);
    } catch (error) {
      this.appendFailed = error as HyperprotoError;
      throw error;
    }
    this.records.push(record);
    this.keys.add(record.key);
  }

  /** Whether the run already has a record. */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Notes a failed run (not a result: a later --resume runs it again). */
  appendFailure(failure: { key: string; error: { code: string; message: string }; at?: string }): void {
    this.appendTo(FAILURES_FILE, { ...failure, at: failure.at ?? new Date().toISOString() });
  }

  /** Notes one runner session (command, wall time, workers) for the report. */
  appendSession(session: Record<string, unknown>): void {
    this.appendTo(SESSIONS_FILE, session);
  }

  private appendTo(file: string, value: unknown): void {
    const path = join(this.dir, file);
    const fd = openForAppend(path);
    try {
      // A line a crash cut short stays a line of its own, which the report skips, and this one starts after it.
      // Simpler than cutting it off as results.jsonl's is: these are notes for the report, nothing is rerun from them.
      appendLine(fd, path, `${JSON.stringify(value)}\n`, { onNewLine: true });
    } finally {
      closeSync(fd);
    }
  }

  /** Closes results.jsonl and releases the lock, also when closing fails. */
  close(): void {
    try {
      if (this.fd !== undefined) closeSync(this.fd);
    } finally {
      this.fd = undefined;
      this.lock.release();
    }
  }

  private requireOpen(): number {
    if (this.fd === undefined) throw new HyperprotoError(ErrorCode.Internal, 'the results store is closed');
    return this.fd;
  }
}

/**
 * Appends a line to the open file `fd` (O_APPEND) at `path`, flushed to disk before returning. One write call for
 * the whole line: a kill can only leave the line out, never half of it in the middle of the file; fsync so a finished
 * run survives a power loss. A write that fails (disk full, file-size limit) is undone by cutting the file back to
 * where the line started, so no partial line is left, and refused as E_IO. `onNewLine`: when the file does not end
 * with a line end, the line starts on a new one.
 */
function appendLine(fd: number, path: string, line: string, options: { onNewLine?: boolean } = {}): void {
  let start: number | undefined;
  try {
    start = fstatSync(fd).size;
    const bytes = Buffer.from(options.onNewLine && start > 0 && !endsWithLineEnd(path, start) ? `\n${line}` : line, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (error) {
    let undone = '';
    if (start !== undefined) {
      try {
        ftruncateSync(fd, start);
      } catch (cut) {
        undone = `; what was written of the line could not be removed (${fileErrorReason(cut)})`;
      }
    }
    throw writeError(path, error, undone);
  }
}

/**
 * Whether the file's byte before `size` is a line end. Read through an open of its own: appending needs no read
 * permission. One that cannot be read counts as no line end, so a line after it costs at most an empty line.
 */
function endsWithLineEnd(path: string, size: number): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const last = Buffer.alloc(1);
    return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Opens a file of the results directory for appending (created when absent), refused as E_IO when it cannot be. */
function openForAppend(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (error) {
    throw writeError(path, error);
  }
}

/** A file of the results directory could not be written: E_IO naming it and why. */
function writeError(path: string, error: unknown, more = ''): HyperprotoError {
  return new HyperprotoError(ErrorCode.Io, `cannot write ${path}: ${fileErrorReason(error)}${more}`, {
    cause: error,
    hint: 'Make room on the disk (or raise the file-size limit, `ulimit -f`) and check that the file is writable, then run again with --resume: the runs recorded so far are kept.',
  });
}

/**
 * A file's bytes, or undefined when it does not exist. Any other failure (permissions, a directory in its place, too
 * large to read) is refused: taking the file as empty would run finished runs again, or replace it.
 */
export async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isAbsent(error)) return undefined;
    throw readError(path, error);
  }
}

const isAbsent = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

function readError(path: string, error: unknown): HyperprotoError {
  return new HyperprotoError(ErrorCode.Io, `cannot read ${path}: ${fileErrorReason(error)}`, {
    cause: error,
    hint: 'Make it a regular file this user can read (check its owner and permissions), then run again.',
  });
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${source} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A file this store writes whole (grid.json, a rewritten results.jsonl) while it is being written: writeFileAtomic's
 * temporary `.<name>.<pid>.<n>.tmp`, or the `<name>.<pid>.draft` of earlier versions. Group 1 or 2 names the file.
 */
const DRAFT = /^(?:(grid\.json|results\.jsonl)\.\d+\.draft|\.(grid\.json|results\.jsonl)\.\d+\.\d+\.tmp)$/;

const draftOf = (name: string): string | undefined => {
  const match = DRAFT.exec(name);
  return match ? (match[1] ?? match[2]) : undefined;
};

/** The file is either the old one or the whole new one (writeFileAtomic), and the rename is flushed to disk. */
async function replaceFile(path: string, data: string | Buffer): Promise<void> {
  await writeFileAtomic(path, data);
  await syncDirectory(dirname(path));
}

/** Flushes a rename to disk; not every platform can open a directory, and there it is left to the file system. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  await handle
    ?.sync()
    .catch(() => {})
    .finally(() => handle.close());
}

function withoutDuplicates(buffer: Buffer, duplicates: readonly DuplicateLine[]): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (const d of duplicates) {
    parts.push(buffer.subarray(from, d.offset));
    from = d.offset + d.bytes;
  }
  parts.push(buffer.subarray(from));
  return Buffer.concat(parts);
}

/**
 * Drafts a killed session left (grid.json written, not yet renamed; a results.jsonl rewrite cut short). Without
 * grid.json the newest complete, valid grid draft is adopted; every other draft is removed. Each step is logged.
 */
async function recoverDrafts(dir: string, log: (message: string) => void): Promise<void> {
  const drafts = (await readdir(dir)).filter((name) => DRAFT.test(name));
  if (drafts.length === 0) return;
  const gridPath = join(dir, GRID_FILE);
  // Only a grid.json that does not exist is absent: one that cannot be looked at (a link loop) is not replaced.
  let haveGrid = await stat(gridPath).then(
    () => true,
    (error: unknown) => {
      if (isAbsent(error)) return false;
      throw readError(gridPath, error);
    },
  );
  const dated = await Promise.all(drafts.map(async (name) => ({ name, mtime: (await stat(join(dir, name))).mtimeMs })));
  dated.sort((a, b) => b.mtime - a.mtime);
  for (const { name } of dated) {
    const path = join(dir, name);
    let why: string;
    if (draftOf(name) !== GRID_FILE) why = `the ${RESULTS_FILE} it would have replaced is intact`;
    else if (haveGrid) why = `${GRID_FILE} is in place`;
    else {
      try {
        parseGrid(parseJson(await readFile(path, 'utf8'), path), path);
        await rename(path, gridPath);
        await syncDirectory(dir);
        haveGrid = true;
        log(`adopted ${name} as ${GRID_FILE}: it is complete (a session was stopped before renaming it)`);
        continue;
      } catch (error) {
        why = `it is not a complete grid (${(error as Error).message.split('\n')[0]})`;
      }
    }
    await rm(path, { force: true });
    log(`removed ${name}, left by a session that was stopped: ${why}`);
  }
}
