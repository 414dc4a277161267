import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { canonicalJson, describeGridDifferences } from './grid-difference.js';
import { parseGrid, type Grid } from './grid-schema.js';
import { recordProblem, type RunRecord } from './run-record.js';
import { LOCK_FILE, ResultsLock } from './results-lock.js';

export const RESULTS_FILE = 'results.jsonl';
export const GRID_FILE = 'grid.json';
export const FAILURES_FILE = 'failures.jsonl';
export const SESSIONS_FILE = 'sessions.jsonl';

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

export interface StoredResults {
  readonly records: RunRecord[];
  readonly torn: TornLine | undefined;
}

/**
 * Parses results.jsonl. Only the last line may be damaged (appends are whole lines, so a crash can cut at most the
 * line being written); a bad line anywhere else means the file was edited or broken some other way, and is refused
 * rather than silently dropped.
 */
export function parseResults(buffer: Buffer, source: string): StoredResults {
  const records: RunRecord[] = [];
  let start = 0;
  let line = 0;
  while (start < buffer.length) {
    line++;
    const newline = buffer.indexOf(0x0a, start);
    const end = newline === -1 ? buffer.length : newline;
    const text = buffer.subarray(start, end).toString('utf8');
    const isLast = newline === -1 || newline === buffer.length - 1;
    let problem: string | undefined;
    if (newline === -1) problem = 'no line end (the write was cut short)';
    else if (text.trim() === '') problem = 'empty line';
    else {
      try {
        problem = recordProblem(JSON.parse(text));
      } catch (error) {
        problem = `not valid JSON (${(error as Error).message})`;
      }
    }
    if (problem) {
      if (!isLast) {
        throw new HyperprotoError(ErrorCode.InvalidInput, `${source} line ${line} is not a run record: ${problem}`, {
          hint: 'Only the last line can be cut by a crash; this file was changed some other way. Restore it, or start a new results directory.',
        });
      }
      return {
        records,
        torn: {
          line,
          offset: start,
          bytes: end + (newline === -1 ? 0 : 1) - start,
          reason: problem,
          key: /"key":"([^"]+)"/.exec(text)?.[1],
        },
      };
    }
    records.push(JSON.parse(text) as RunRecord);
    start = end + 1;
  }
  return { records, torn: undefined };
}

/** Reads a results directory without changing it (for reports). */
export async function readResultsDirectory(dir: string): Promise<{ grid: Grid; records: RunRecord[]; torn: TornLine | undefined }> {
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
  const buffer = await readFile(join(dir, RESULTS_FILE)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return Buffer.alloc(0);
    throw new HyperprotoError(ErrorCode.Io, `cannot read ${join(dir, RESULTS_FILE)}: ${error.message}`, { cause: error });
  });
  return { grid, ...parseResults(buffer, join(dir, RESULTS_FILE)) };
}

export interface OpenStoreOptions {
  readonly grid: Grid;
  /** Continue a directory that already holds this grid's results. */
  readonly resume?: boolean;
  /** Where the grid came from, for messages (e.g. `preset seed`). */
  readonly gridSource?: string;
  readonly log?: (message: string) => void;
}

/**
 * The results of one grid in one directory: grid.json (what runs), results.jsonl (one whole record per finished
 * run, append-only), failures.jsonl (runs that failed, for the report) and a lock while a runner owns it.
 */
export class ResultsStore {
  private fd: number | undefined;

  private constructor(
    readonly dir: string,
    readonly grid: Grid,
    private readonly lock: ResultsLock,
    readonly records: RunRecord[],
    readonly torn: TornLine | undefined,
  ) {}

  get resultsPath(): string {
    return join(this.dir, RESULTS_FILE);
  }

  static async open(target: string, options: OpenStoreOptions): Promise<ResultsStore> {
    const dir = resolve(target);
    const gridSource = options.gridSource ?? 'the requested grid';
    const existing = await stat(dir).catch(() => undefined);
    if (existing && !existing.isDirectory()) throw new HyperprotoError(ErrorCode.Io, `--out ${target} exists and is not a directory`);
    const entries = existing ? (await readdir(dir)).filter((name) => name !== LOCK_FILE) : [];
    if (entries.length > 0 && !entries.includes(GRID_FILE)) {
      throw new HyperprotoError(ErrorCode.Io, `--out ${target} is not empty and holds no experiment (no ${GRID_FILE})`, {
        hint: 'Choose a new or empty directory for the results.',
      });
    }
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw new HyperprotoError(ErrorCode.Io, `cannot create --out ${target}: ${(error as Error).message}`, { cause: error });
    }

    const lock = ResultsLock.acquire(join(dir, LOCK_FILE), target);
    try {
      if (lock.tookOverFrom) options.log?.(`took over a stale lock of pid ${lock.tookOverFrom.pid} (that process is gone)`);
      const gridPath = join(dir, GRID_FILE);
      const storedText = await readFile(gridPath, 'utf8').catch(() => undefined);
      if (storedText !== undefined) {
        const stored = parseGrid(parseJson(storedText, gridPath), gridPath);
        const differences = describeGridDifferences(stored, options.grid, gridPath, gridSource);
        if (differences.length > 0) {
          throw new HyperprotoError(
            ErrorCode.InvalidOptions,
            `${target} holds results of a different grid:\n  ${differences.join('\n  ')}`,
            {
              hint: 'Use a new --out for this grid, or rerun the grid that made these results.',
            },
          );
        }
        if (!options.resume) {
          throw new HyperprotoError(ErrorCode.Io, `${target} already holds results of grid "${stored.name}"`, {
            hint: 'Pass --resume to continue it (finished runs are kept and skipped), or choose another --out.',
          });
        }
      }
      // Written when new, and rewritten when only labels or published numbers changed.
      if (storedText === undefined || canonicalJson(parseJson(storedText, gridPath)) !== canonicalJson(options.grid)) {
        await writeAtomically(gridPath, `${JSON.stringify(options.grid, null, 2)}\n`);
      }

      const resultsPath = join(dir, RESULTS_FILE);
      const buffer = await readFile(resultsPath).catch(() => Buffer.alloc(0));
      const { records, torn } = parseResults(buffer, resultsPath);
      if (torn) {
        // Keep the damaged bytes for inspection, then cut them off so appends continue on a clean line.
        const aside = `${resultsPath}.torn-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        await writeFile(aside, buffer.subarray(torn.offset));
        await truncate(resultsPath, torn.offset);
        options.log?.(
          `${RESULTS_FILE} line ${torn.line} was cut short (${torn.reason})${torn.key ? `: run ${torn.key} will be redone` : ''}; its ${torn.bytes} bytes are kept in ${aside}`,
        );
      }
      const store = new ResultsStore(dir, options.grid, lock, records, torn);
      store.fd = openSync(resultsPath, 'a');
      return store;
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** Appends one record as one whole line, flushed to disk before returning. */
  append(record: RunRecord): void {
    this.appendLine(this.requireOpen(), `${JSON.stringify(record)}\n`);
    this.records.push(record);
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
    const fd = openSync(join(this.dir, file), 'a');
    try {
      this.appendLine(fd, `${JSON.stringify(value)}\n`);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.lock.release();
  }

  private requireOpen(): number {
    if (this.fd === undefined) throw new HyperprotoError(ErrorCode.Internal, 'the results store is closed');
    return this.fd;
  }

  private appendLine(fd: number, line: string): void {
    // One write call for the whole line (O_APPEND): a kill can only leave the line out, never half of it in the
    // middle of the file; fsync so a finished run survives a power loss.
    const bytes = Buffer.from(line, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HyperprotoError(ErrorCode.InvalidInput, `${source} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const draft = `${path}.${process.pid}.draft`;
  await writeFile(draft, text);
  await rename(draft, path);
}
