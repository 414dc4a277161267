import { defineHead, ErrorCode, firstNonFinite, h, HyperprotoError, z, type HeadDefinition } from '@hyperproto/core';

export const hpnHeadOptionsSchema = z.strictObject({});

export type HpnHeadOptions = z.output<typeof hpnHeadOptionsSchema>;

/** The name under which the head ships its prototype matrix [C, D]. */
export const PROTOTYPES_CONSTANT = 'prototypes';

/**
 * (1 - cos(output, prototype of the true class))^2, averaged over rows. Prototypes are unit rows, so the cosine is
 * the dot product with the normalised output.
 */
export const hpnLoss = h.mean(
  h.pow(h.sub(h.scalar(1), h.rowSum(h.mul(h.l2normalize(h.output()), h.gatherRows(h.constant(PROTOTYPES_CONSTANT), h.labels())))), 2),
);

/** Cosine to every prototype [N, C]; the nearest prototype is the prediction. */
export const hpnScores = h.matmulTransposed(h.l2normalize(h.output()), h.constant(PROTOTYPES_CONSTANT));

/** Hyperspherical prototype network head (Mettes et al. 2019): fixed prototypes, output width = prototype dims. */
export const hpnHead = defineHead({
  name: 'hpn',
  summary: 'Hyperspherical prototype head: output rotated toward fixed class prototypes by a cosine loss',
  options: hpnHeadOptionsSchema,
  usesPrototypes: true,
  build({ classes, prototypes }): HeadDefinition {
    if (!prototypes) {
      throw new HyperprotoError(ErrorCode.InvalidInput, 'the hpn head needs prototypes, one row per class', {
        hint: 'Name a prototype strategy and dims in the spec (e.g. "prototypes": { "strategy": "random", "dims": 10 }) or a .npy file.',
      });
    }
    if (prototypes.rows !== classes) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `the hpn head got ${prototypes.rows} prototypes for ${classes} classes; it needs exactly one prototype row per class`,
      );
    }
    if (prototypes.cols < 1 || prototypes.data.length !== prototypes.rows * prototypes.cols) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `the hpn head got a prototype matrix of ${prototypes.rows} x ${prototypes.cols} with ${prototypes.data.length} values`,
      );
    }
    const bad = firstNonFinite(prototypes.data);
    if (bad >= 0) {
      throw new HyperprotoError(
        ErrorCode.InvalidInput,
        `the hpn head got a non-finite prototype value at row ${Math.floor(bad / prototypes.cols)}, column ${bad % prototypes.cols}`,
      );
    }
    return {
      outputUnits: prototypes.cols,
      loss: hpnLoss,
      scores: hpnScores,
      scoresName: 'scores',
      constants: { [PROTOTYPES_CONSTANT]: prototypes },
    };
  },
});
