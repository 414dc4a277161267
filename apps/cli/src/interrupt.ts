import { rmSync } from 'node:fs';

let controller: AbortController | undefined;
const cleanups = new Set<string>();

/**
 * Aborted on the first Ctrl-C (SIGINT) or SIGTERM so long work stops at the next check and cleans up; a second
 * Ctrl-C exits at once, still removing staged output.
 */
export function interruptSignal(): AbortSignal {
  if (!controller) {
    controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller!.signal.aborted) {
        removeStaged();
        process.exit(130);
      }
      process.stderr.write(`\n${signal}: stopping (press Ctrl-C again to quit at once)\n`);
      controller!.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', removeStaged);
  }
  return controller.signal;
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
