import { test } from 'node:test';
import { prototypeStrategyConformance } from '@hyperproto/plugin-testing';
import plugin from './index.js';

// The checks every built-in prototype strategy passes too: shape, unit rows, seeding, refusals, abort.
for (const check of prototypeStrategyConformance(plugin)) test(check.name, check.run);
