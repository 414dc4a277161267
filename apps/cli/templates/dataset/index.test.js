import { test } from 'node:test';
import { datasetConformance } from '@hyperproto/plugin-testing';
import plugin from './index.js';

// The checks every built-in dataset passes too: shapes, finite features, labels in range, describe agreeing with
// generate, seeding, abort.
for (const check of datasetConformance(plugin, { options: { classes: 4, trainPerClass: 10, validationPerClass: 5, testPerClass: 5 } })) {
  test(check.name, check.run);
}
