import { SingleBar, Presets } from 'cli-progress';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
}

/**
 * Where the CLI writes: results to stdout (one JSON object with --json), messages and progress to stderr.
 * Progress bars only on a terminal, and never with --json or --quiet.
 */
export class Output {
  readonly json: boolean;
  private readonly quiet: boolean;
  private readonly interactive: boolean;
  private bar: SingleBar | undefined;
  private barStage: string | undefined;

  constructor(options: OutputOptions, stream: NodeJS.WriteStream = process.stderr) {
    this.json = Boolean(options.json);
    this.quiet = Boolean(options.quiet);
    this.interactive = Boolean(stream.isTTY) && !this.json && !this.quiet && process.env.CI !== 'true';
  }

  /** A message for a person (stderr), suppressed by --quiet and --json. */
  info(message: string): void {
    if (this.quiet || this.json) return;
    this.withBarHidden(() => process.stderr.write(`${message}\n`));
  }

  /** The command's result: JSON with --json, else the human text. */
  result(value: unknown, human: () => string): void {
    this.done();
    process.stdout.write(this.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
  }

  /** Progress of a stage: a bar on a terminal; nothing otherwise. */
  progress(stage: string, done: number, total: number, label = ''): void {
    if (!this.interactive) return;
    if (this.barStage !== stage) {
      this.done();
      this.bar = new SingleBar(
        { format: `${stage.padEnd(10)} [{bar}] {value}/{total} {label} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
        Presets.shades_classic,
      );
      this.bar.start(total, done, { label });
      this.barStage = stage;
    } else {
      this.bar?.setTotal(total);
      this.bar?.update(done, { label });
    }
  }

  /** Ends the current progress bar, if any. */
  done(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.barStage = undefined;
  }

  private withBarHidden(write: () => void): void {
    if (!this.bar) return write();
    // Writing under an active bar garbles it: finish the line first.
    process.stderr.write('\n');
    write();
  }
}
