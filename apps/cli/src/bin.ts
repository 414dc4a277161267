#!/usr/bin/env node
import { interruptSignal } from './interrupt.js';
import { main } from './main.js';

interruptSignal(); // before any work, so the first Ctrl-C is always handled
process.exitCode = await main(process.argv);
