import { test } from 'node:test';
import { evaluatorConformance } from '@hyperproto/plugin-testing';
import plugin from './index.js';

// The checks every built-in evaluator passes too: plain JSON results, inputs untouched, the same input the same result.
for (const check of evaluatorConformance(plugin)) test(check.name, check.run);
