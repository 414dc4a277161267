// @ts-check
import { createMatrix, defineDataset, throwIfAborted, z } from '@hyperproto/core';

const options = z
  .object({
    classes: z.number().int().min(2).default(3),
    width: z.number().int().min(1).default(20),
    trainPerClass: z.number().int().min(1).default(100),
    validationPerClass: z.number().int().min(1).default(20),
    testPerClass: z.number().int().min(1).default(50),
    noise: z.number().positive().default(1),
  })
  .strict();

/**
 * One Gaussian blob per class around a random centre in [-2, 2]^width. Replace `generate` with code that loads or
 * makes your data; keep the contract: float32 features [N, width], int32 labels in [0, classes), three splits.
 */
export default defineDataset({
  name: '__PLUGIN_NAME__',
  summary: 'one Gaussian blob per class (replace with your data)',
  options,
  // What the options fix before any data exists (leave out what you would have to read files for): hyperproto
  // refuses a prototype size that cannot serve `classes` before generating, and estimates run times from the rest.
  describe: ({ classes, width, trainPerClass }) => ({ classes, trainRows: classes * trainPerClass, inputWidth: width }),
  generate(ctx, { classes, width, trainPerClass, validationPerClass, testPerClass, noise }) {
    // Forked streams: changing one split's size leaves the others' numbers unchanged.
    const centres = ctx.rng.fork('centres').fillUniform(new Float32Array(classes * width), -2, 2);
    const split = (/** @type {string} */ name, /** @type {number} */ perClass) => {
      const rng = ctx.rng.fork(name);
      const features = createMatrix(classes * perClass, width);
      const labels = new Int32Array(classes * perClass);
      for (let row = 0; row < labels.length; row++) {
        if (row % 4096 === 0) throwIfAborted(ctx.signal); // stops with E_ABORTED on Ctrl-C
        const label = row % classes;
        labels[row] = label;
        for (let k = 0; k < width; k++)
          features.data[row * width + k] = /** @type {number} */ (centres[label * width + k]) + noise * rng.normal();
      }
      return { features, labels };
    };
    return {
      classes,
      inputWidth: width,
      classNames: Array.from({ length: classes }, (_, i) => `blob-${i}`),
      train: split('train', trainPerClass),
      validation: split('validation', validationPerClass),
      test: split('test', testPerClass),
      info: { classes, width, trainPerClass, validationPerClass, testPerClass, noise },
    };
  },
});
