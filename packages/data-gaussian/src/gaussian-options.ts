import { ErrorCode, HyperprotoError, z } from '@hyperproto/core';

/** Table 1 of the seed: the noise level it used for each class count. */
export const SEED_SIGMA_BY_CLASSES: Readonly<Record<number, number>> = { 10: 3, 100: 2.5, 1000: 1.25 };

/** The seed's sigma for `classes`, or undefined when Table 1 has no row for it. */
export function seedSigma(classes: number): number | undefined {
  return Object.hasOwn(SEED_SIGMA_BY_CLASSES, classes) ? SEED_SIGMA_BY_CLASSES[classes] : undefined;
}

function missingSigmaMessage(classes: number): string {
  const known = Object.keys(SEED_SIGMA_BY_CLASSES).join(', ');
  return `sigma has no default for ${classes} classes (the seed's Table 1 only covers ${known} classes); pass sigma, e.g. --sigma 2 on the command line, or "sigma": 2 beside "classes": ${classes} in a grid's or a config's dataset options`;
}

/** The seed's sigma for `classes`; throws E_INVALID_OPTIONS for a class count Table 1 does not list. */
export function defaultSigma(classes: number): number {
  const sigma = seedSigma(classes);
  if (sigma === undefined) throw new HyperprotoError(ErrorCode.InvalidOptions, missingSigmaMessage(classes));
  return sigma;
}

const positiveInt = z.number().int().min(1);

export const GaussianOptionsSchema = z
  .strictObject({
    /** Number of classes (one Gaussian cluster each). */
    classes: z.number().int().min(2),
    /** Standard deviation of every coordinate around its class centre; defaults to the seed's Table 1. */
    sigma: z.number().positive().finite().optional(),
    /** Feature width; the seed used 300. */
    inputWidth: positiveInt.default(300),
    trainPerClass: positiveInt.default(500),
    validationPerClass: positiveInt.default(100),
    /**
     * Rows of the validation split, in place of validationPerClass x classes. Rows go to the classes in turn, so with
     * fewer rows than classes the first `validationRows` classes are validated (a fair sample: every centre is drawn
     * independently) while predictions still range over every class. For many classes, where validating every class
     * after each epoch would cost more than the epoch's training.
     */
    validationRows: positiveInt.optional(),
    testPerClass: positiveInt.default(200),
  })
  // Checked here as well as in generate() so that a spec without a usable sigma fails before any work starts.
  .superRefine((options, ctx) => {
    if (options.sigma === undefined && seedSigma(options.classes) === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sigma'], message: missingSigmaMessage(options.classes) });
    }
  });

/** Options after validation, as the plugin receives them. */
export type GaussianOptions = z.output<typeof GaussianOptionsSchema>;
/** Options as written in a spec (defaults may be left out). */
export type GaussianOptionsInput = z.input<typeof GaussianOptionsSchema>;
