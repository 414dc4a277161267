import { test } from 'node:test';
import { headConformance } from '@hyperproto/plugin-testing';
import plugin from './index.js';

// The checks every built-in head passes too: shapes, constants, and a loss whose minimum the scores agree with.
for (const check of headConformance(plugin)) test(check.name, check.run);
