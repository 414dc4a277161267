import { rmSync } from 'node:fs';

let controller: AbortController | undefined;
const cleanups = new Set<string>();

/**
 * Whether `flag` is among the arguments of `argv` (process.argv: node, script, arguments), before any `--`. How
 * --json (main) and the quiet of the interrupt message are read before, or without, parsing the command line.
 */
export function flagGiven(argv: readonly string[], ...flags: string[]): boolean {
  const end = argv.indexOf('--');
  return argv.slice(2, end === -1 ? undefined : end).some((arg) => flags.includes(arg));
}

/**
 * Aborted on the first Ctrl-C (SIGINT) or SIGTERM so long work stops at the next check and cleans up; a second
 * Ctrl-C quits at once, still removing staged output. The stop is said on stderr, except with --json or -q/--quiet
 * (read from process.argv: the handler is installed before the command line is parsed, and stays so a signal that
 * comes during loading is still handled), after a blank line only on a terminal (to end the line that ^C or a
 * progress bar left).
 */
export function interruptSignal(): AbortSignal {
  if (!controller) {
    controller = new AbortController();
    const silent = flagGiven(process.argv, '--json', '-q', '--quiet');
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller!.signal.aborted) quitAtOnce(signal);
      if (!silent) process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${signal}: stopping (press Ctrl-C again to quit at once)\n`);
      controller!.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', removeStaged);
  }
  return controller.signal;
}

/**
 * Ends the process by the signal itself, as if it had not been caught: a shell then reports 128 + its number (130
 * for Ctrl-C). Not process.exit(): that first waits for every worker thread to end, and a thread inside a native call
 * (an onnxruntime step of `experiment`) would then abort the whole process when the call returns.
 */
function quitAtOnce(signal: NodeJS.Signals): never {
  removeStaged();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  // Only reached where the signal cannot end the process.
  process.exit(130);
}

/** A staged path to delete if the process exits before it is committed. */
export function removeOnExit(path: string): () => void {
  cleanups.add(path);
  return () => cleanups.delete(path);
}

function removeStaged(): void {
  for (const path of cleanups) rmSync(path, { recursive: true, force: true });
  cleanups.clear();
}
