#!/usr/bin/env node
import { interruptSignal } from './interrupt.js';

// Before anything else is loaded (loading the commands takes a second on a busy machine), so that the first Ctrl-C
// is always handled.
interruptSignal();
// A reader that leaves early (`hyperproto train --help | head -1`) closes the pipe: what is left to print has nowhere
// to go, but the command's work (its files) still counts, so it runs to its own end and exit code instead of dying
// of an unhandled EPIPE with a stack trace. Any other stream error stays fatal.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
const { invocationDirectory } = await import('./invocation-directory.js');
const { main } = await import('./main.js');
// Every relative path, plugin and config file is then resolved from where the user stands.
process.chdir(invocationDirectory());
process.exitCode = await main(process.argv);
