import { headConformance } from '@hyperproto/plugin-testing';
import { describe, it } from 'vitest';
import hpnHead from './index.js';

describe('hpn head conformance', () => {
  // Signed axes (4 classes in 3 dims), then seeded random rows (10 classes in 3 dims: more than the axes).
  for (const c of headConformance(hpnHead)) it(c.name, c.run);
  for (const c of headConformance(hpnHead, { classes: 10, dims: 3 })) it(`random prototypes: ${c.name}`, c.run);
});
