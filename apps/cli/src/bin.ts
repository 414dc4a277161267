#!/usr/bin/env node
import { interruptSignal } from './interrupt.js';

// Before anything else is loaded (loading the commands takes a second on a busy machine), so that the first Ctrl-C
// is always handled.
interruptSignal();
const { invocationDirectory } = await import('./invocation-directory.js');
const { main } = await import('./main.js');
// Every relative path, plugin and config file is then resolved from where the user stands.
process.chdir(invocationDirectory());
process.exitCode = await main(process.argv);
