#!/usr/bin/env node
import { interruptSignal } from './interrupt.js';
import { invocationDirectory } from './invocation-directory.js';
import { main } from './main.js';

interruptSignal(); // before any work, so the first Ctrl-C is always handled
// Every relative path, plugin and config file is then resolved from where the user stands.
process.chdir(invocationDirectory());
process.exitCode = await main(process.argv);
