// @ts-check
import { createMatrix, definePrototypeStrategy, z } from '@hyperproto/core';

/**
 * Signed unit axes in a seeded random order: +a, -a, +b, -b, ... where a, b, ... are distinct axes, so every pair
 * of prototypes is orthogonal or opposite. Replace `generate` with your own construction.
 */
export default definePrototypeStrategy({
  name: '__PLUGIN_NAME__',
  summary: 'signed unit axes in a seeded random order (every pair orthogonal or opposite)',
  options: z.object({}).strict(),
  // Say why a size cannot be served: hyperproto refuses it before any work and names the strategies that can.
  unsupported: ({ classes, dims }) =>
    classes > 2 * dims ? `needs dims >= classes / 2 (${Math.ceil(classes / 2)}), got ${dims}` : undefined,
  generate(ctx, { classes, dims }) {
    // All randomness comes from ctx.rng: the same seed gives the same prototypes.
    const axes = ctx.rng.shuffle(Array.from({ length: dims }, (_, i) => i));
    const prototypes = createMatrix(classes, dims); // C x D float32; every row must have unit length
    for (let i = 0; i < classes; i += 2) {
      const sign = ctx.rng.float() < 0.5 ? -1 : 1;
      const axis = /** @type {number} */ (axes[i >> 1]);
      prototypes.data[i * dims + axis] = sign;
      if (i + 1 < classes) prototypes.data[(i + 1) * dims + axis] = -sign;
    }
    return prototypes;
  },
});
