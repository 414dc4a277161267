import { rmSync } from 'node:fs';

let controller: AbortController | undefined;
const cleanups = new Set<string>();

/**
 * Aborted on the first Ctrl-C (SIGINT) or SIGTERM so long work stops at the next check and cleans up; a second
 * Ctrl-C quits at once, still removing staged output.
 */
export function interruptSignal(): AbortSignal {
  if (!controller) {
    controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller!.signal.aborted) quitAtOnce(signal);
      process.stderr.write(`\n${signal}: stopping (press Ctrl-C again to quit at once)\n`);
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
