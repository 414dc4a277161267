import { headConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import marginHead from './index.js';

describe('margin head conformance', () => {
  // Signed axes (4 classes in 3 dims), then seeded random rows (10 classes in 3 dims), a wide margin and a learned scale.
  for (const c of headConformance(marginHead)) it(c.name, c.run);
  for (const c of headConformance(marginHead, { classes: 10, dims: 3 })) it(`random prototypes: ${c.name}`, c.run);
  for (const c of headConformance(marginHead, { classes: 10, dims: 3, options: { margin: 0.9, learnScale: true, scale: 4 } }))
    it(`margin 0.9, learned scale: ${c.name}`, c.run);
});
