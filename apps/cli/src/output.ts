import { MultiBar, type Params, type SingleBar } from 'cli-progress';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  /** Also the engine skip notes. */
  verbose?: boolean;
}

interface BarPayload {
  stage: string;
  label: string;
  /** Seconds left, or null while there is nothing to estimate from. */
  eta: number | null;
}

const BAR_WIDTH = 40;

let resultWritten = false;
/** The Output whose bar is on screen: one per process. */
let drawing: Output | undefined;

/** Whether stdout has the command's result: with --json it must stay one object, even if the command then fails. */
export function hasResult(): boolean {
  return resultWritten;
}

/** Ends the bar on screen, if any: before an error is printed (else the bar redraws under it, and its timer keeps the process alive). */
export function stopProgress(): void {
  drawing?.done();
}

/**
 * Where the CLI writes: results to stdout (one JSON object with --json), messages and progress to stderr.
 * Progress is one bar per command, only on a terminal, and never with --json, --quiet or CI=true; messages go
 * above it. Nothing is coloured, so NO_COLOR needs nothing.
 */
export class Output {
  readonly json: boolean;
  /** Whether progress is drawn. */
  readonly interactive: boolean;
  private readonly quiet: boolean;
  private readonly verbose: boolean;
  private readonly notesShown = new Set<string>();
  private bars: MultiBar | undefined;
  private bar: SingleBar | undefined;
  private stage: { name: string; since: number; from: number } | undefined;

  constructor(
    options: OutputOptions,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.json = Boolean(options.json);
    this.quiet = Boolean(options.quiet);
    this.verbose = Boolean(options.verbose);
    this.interactive = Boolean(stream.isTTY) && !this.json && !this.quiet && process.env.CI !== 'true';
  }

  /** A message for a person (stderr, as terminalText), suppressed by --quiet and --json. */
  info(message: string): void {
    if (this.quiet || this.json) return;
    const text = terminalText(message);
    if (!this.bars) return void this.stream.write(`${text}\n`);
    // Printed above the bar at once: a line written under a live bar is overwritten by its next redraw.
    this.bars.log(`${text}\n`);
    this.bars.update();
  }

  /**
   * A line of the pipeline's log, possibly prefixed by a run key. Engine skip notes (`skipped [tfjs] ...`) say
   * the same on every run and only matter when choosing an engine: once each, and only with --verbose
   * (`doctor` always lists them).
   */
  log(message: string): void {
    const note = /^(?:\S+: )?(skipped \[.*)$/s.exec(message)?.[1];
    if (note === undefined) {
      this.info(message);
      return;
    }
    if (!this.verbose || this.notesShown.has(note)) return;
    this.notesShown.add(note);
    this.info(note);
  }

  /** The command's result: JSON with --json, else the human text (terminalText). */
  result(value: unknown, human: () => string): void {
    this.done();
    process.stdout.write(this.json ? `${JSON.stringify(value)}\n` : `${terminalText(human())}\n`);
    resultWritten = true;
  }

  /**
   * Progress of a stage on the one bar: a terminal only. `eta` is the caller's estimate in seconds (null: none
   * yet); without it the stage's pace so far gives one.
   */
  progress(stage: string, done: number, total: number, label = '', eta?: number | null): void {
    if (!this.interactive) return;
    const now = performance.now();
    if (this.stage?.name !== stage) this.stage = { name: stage, since: now, from: done };
    const { since, from } = this.stage;
    const payload: BarPayload = {
      stage,
      label,
      eta: eta !== undefined ? eta : done > from ? (((now - since) / 1000) * (total - done)) / (done - from) : null,
    };
    if (!this.bars || !this.bar) {
      // linewrap: long messages above the bar wrap instead of being cut at the edge (the bar itself is cut to fit).
      // forceRedraw: a message printed over the bar's line must not leave it blank until the next change.
      this.bars = new MultiBar({ format: formatBar, stream: this.stream, hideCursor: true, linewrap: true, forceRedraw: true });
      this.bar = this.bars.create(total, done, payload);
      // A second Ctrl-C exits at once: give the cursor back.
      if (!drawing) process.once('exit', stopProgress);
      drawing = this;
    } else {
      this.bar.setTotal(total);
      this.bar.update(done, payload);
    }
  }

  /** Ends the bar, leaving its last state on screen; the next progress starts a new one. */
  done(): void {
    this.bars?.stop();
    this.bars = undefined;
    this.bar = undefined;
    this.stage = undefined;
    if (drawing === this) drawing = undefined;
  }
}

/**
 * Characters a terminal would obey rather than show: C0 controls but tab and newline (ESC starts colour, cursor,
 * title and clipboard sequences; CR and backspace overwrite what was printed), DEL, C1 controls, and Unicode's
 * bidirectional overrides and isolates (which reorder what is shown). Model files, data files and clients supply
 * text the CLI prints (class names, metadata, labels quoted in errors).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its purpose
const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with what a terminal would obey (TERMINAL_UNSAFE) written as visible escapes: `\x1b`, `\u202e`. */
export function terminalText(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/**
 * The note beside a macro-F1 scored on rows of only some classes, `(it holds rows of 2 of the 3 classes: ...)` with
 * `holder` 'it holds'; undefined when every class has rows: macro-F1 averages over every class, the absent ones at 0.
 */
export function absentClassesNote(holder: string, present: number, classes: number): string | undefined {
  return present < classes
    ? `(${holder} rows of ${present} of the ${classes} classes: macro-F1 counts the others as 0, read accuracy)`
    : undefined;
}

/** `3m 20s`, `45s`, `2h 5m`: a duration with its units. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** `stage [bar] done/total | ETA 3m 20s | label`, cut to the terminal's width: a bar that wraps cannot be redrawn in place. */
function formatBar(_options: unknown, params: Params, payload: BarPayload): string {
  const filled = Math.round(params.progress * BAR_WIDTH);
  const eta = payload.eta === null ? '?' : formatDuration(payload.eta);
  const line = `${payload.stage.padEnd(10)} [${'\u2588'.repeat(filled)}${'\u2591'.repeat(BAR_WIDTH - filled)}] ${params.value}/${params.total} | ETA ${eta}${payload.label ? ` | ${payload.label}` : ''}`;
  return line.slice(0, params.maxWidth - 1);
}
