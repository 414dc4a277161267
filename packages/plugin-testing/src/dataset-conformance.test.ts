import {
  createMatrix,
  defineDataset,
  ErrorCode,
  HyperprotoError,
  z,
  type Dataset,
  type DatasetPlugin,
  type DatasetSplit,
  type PluginContext,
} from '@hyperproto/core';
import { describe, it } from 'vitest';
import { conformanceExpectations } from './test-support/conformance-expectations.js';
import { datasetConformance } from './dataset-conformance.js';

const { expectAllPass, expectFailure } = conformanceExpectations('dataset');

const optionsSchema = z.strictObject({ classes: z.number().int().min(2), perClass: z.number().int().min(1).default(3) });
type Options = z.output<typeof optionsSchema>;
const small = { options: { classes: 3 } };

/** Points around the corners of a simplex, one cluster per class, rows interleaved by class. */
function split(ctx: PluginContext, classes: number, perClass: number): DatasetSplit {
  const width = 2;
  const rows = classes * perClass;
  const labels = Int32Array.from({ length: rows }, (_, i) => i % classes);
  const data = new Float32Array(rows * width);
  labels.forEach((label, i) => {
    data[i * width] = Math.cos(label) + 0.1 * ctx.rng.normal();
    data[i * width + 1] = Math.sin(label) + 0.1 * ctx.rng.normal();
  });
  return { features: createMatrix(rows, width, data), labels };
}

function clusters(ctx: PluginContext, { classes, perClass }: Options): Dataset {
  if (ctx.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
  const [train, validation, test] = [split(ctx, classes, perClass), split(ctx, classes, perClass), split(ctx, classes, perClass)];
  return {
    classes,
    inputWidth: 2,
    classNames: Array.from({ length: classes }, (_, c) => `class ${c}`),
    train,
    validation,
    test,
    reference: { name: 'truth', testPredictions: test.labels.slice() },
    info: { perClass },
  };
}

/** A dataset made from the well-behaved one, changed by `edit`. */
const dataset = (name: string, edit: (data: Dataset, ctx: PluginContext) => Dataset = (d) => d): DatasetPlugin<Options> =>
  defineDataset({ name, summary: 'test dataset', options: optionsSchema, generate: (ctx, options) => edit(clusters(ctx, options), ctx) });

const withTrain = (data: Dataset, train: Partial<DatasetSplit>): Dataset => ({ ...data, train: { ...data.train, ...train } });

describe('datasetConformance', () => {
  it('passes a small seeded dataset, with or without names and a reference', async () => {
    await expectAllPass(datasetConformance(dataset('clusters'), small));
    const plain = dataset('plain', ({ classNames: _names, reference: _reference, ...rest }) => rest);
    await expectAllPass(datasetConformance(plain, { options: { classes: 5, perClass: 1 } }));
  });

  it('fails a label out of range', async () => {
    const off = dataset('off-by-one', (data) => withTrain(data, { labels: data.train.labels.map((label) => label + 1) }));
    await expectFailure(
      datasetConformance(off, small),
      /labels in \[0, classes\)/,
      /train label 3 at row 2 is outside \[0, 3\); expected class indices in \[0, classes\)/,
    );
  });

  it('fails non-finite or float64 features, a feature width other than inputWidth, and an empty split', async () => {
    const holes = dataset('holes', (data) => {
      data.validation.features.data[3] = Number.NaN;
      return data;
    });
    await expectFailure(
      datasetConformance(holes, small),
      /finite float32/,
      /validation features have the non-finite value NaN at row 1, column 1/,
    );
    const doubles = dataset('doubles', (data) =>
      withTrain(data, {
        features: { ...data.train.features, data: Float64Array.from(data.train.features.data) as unknown as Float32Array },
      }),
    );
    await expectFailure(
      datasetConformance(doubles, small),
      /finite float32/,
      /train\.features is a matrix whose data is a Float64Array; expected a Float32Array/,
    );
    const narrow = dataset('narrow', (data) => ({ ...data, inputWidth: 3 }));
    await expectFailure(datasetConformance(narrow, small), /finite float32/, /train features are 9 x 2 .*; expected 9 x 3 \(inputWidth\)/);
    const empty = dataset('empty', (data) => ({ ...data, test: { features: createMatrix(0, 2), labels: new Int32Array(0) } }));
    await expectFailure(datasetConformance(empty, small), /finite float32/, /the test split is empty; expected at least one row/);
  });

  it('fails a class missing from train, duplicate class names and reference predictions of the wrong length', async () => {
    const missing = dataset('missing', (data) => withTrain(data, { labels: data.train.labels.map((label) => (label === 2 ? 0 : label)) }));
    await expectFailure(
      datasetConformance(missing, small),
      /every class/,
      /class 2 \("class 2"\) has no training rows; expected at least one train row of every class/,
    );
    const twins = dataset('twins', (data) => ({ ...data, classNames: ['a', 'b', 'a'] }));
    await expectFailure(
      datasetConformance(twins, small),
      /unique strings/,
      /classNames repeats "a" at 0 and 2; expected a different name for each class/,
    );
    const short = dataset('short', (data) => ({ ...data, reference: { name: 'truth', testPredictions: data.test.labels.slice(1) } }));
    await expectFailure(
      datasetConformance(short, small),
      /reference predictions/,
      /reference\.testPredictions has 8 values for 9 test rows/,
    );
    const wild = dataset('wild', (data) => ({ ...data, reference: { name: 'truth', testPredictions: data.test.labels.map(() => 7) } }));
    await expectFailure(
      datasetConformance(wild, small),
      /reference predictions/,
      /reference\.testPredictions\[0\] is 7; expected a class in \[0, 3\)/,
    );
  });

  it('passes a describe that says what generate gives, and fails one that does not, naming the field', async () => {
    const honest = defineDataset({
      ...dataset('honest'),
      describe: ({ classes, perClass }: Options) => ({ classes, trainRows: classes * perClass, inputWidth: 2 }),
    });
    await expectAllPass(datasetConformance(honest, small));
    const partial = defineDataset({ ...dataset('partial'), describe: ({ classes }: Options) => ({ classes }) });
    await expectAllPass(datasetConformance(partial, small));
    const wrongRows = defineDataset({ ...dataset('wrong-rows'), describe: ({ classes }: Options) => ({ classes, trainRows: classes }) });
    await expectFailure(
      datasetConformance(wrongRows, small),
      /describes/,
      /describe said trainRows 3, generate gave 9; expected describe to say only what generate will give/,
    );
    const wrongClasses = defineDataset({ ...dataset('wrong-classes'), describe: () => ({ classes: 4 }) });
    await expectFailure(datasetConformance(wrongClasses, small), /describes/, /describe said classes 4, generate gave 3/);
    const eager = defineDataset({ ...dataset('eager'), describe: (async () => ({ classes: 3 })) as never });
    await expectFailure(datasetConformance(eager, small), /describes/, /describe threw .*describe returned a promise/);
  });

  it('passes an inspect that reads what generate gives, and fails one that does not, naming the field', async () => {
    const honest = defineDataset({
      ...dataset('honest'),
      inspect: async ({ classes }: Options) => ({ classes, inputWidth: 2 }),
    });
    await expectAllPass(datasetConformance(honest, small));
    const wrongClasses = defineDataset({ ...dataset('wrong-classes'), inspect: async () => ({ classes: 40 }) });
    await expectFailure(
      datasetConformance(wrongClasses, small),
      /inspects/,
      /inspect said classes 40, generate gave 3; expected inspect to say only what generate will give/,
    );
    const malformed = defineDataset({ ...dataset('malformed'), inspect: (async () => ({ classes: 'three' })) as never });
    await expectFailure(datasetConformance(malformed, small), /inspects/, /inspect threw .*inspect returned classes "three"/);
  });

  it('fails unseeded randomness', async () => {
    const noisy = dataset('noisy', (data) => {
      data.test.features.data[0] = Math.random();
      return data;
    });
    await expectFailure(
      datasetConformance(noisy, small),
      /identical bytes/,
      /seed 1 gave different test features on two runs; expected identical bytes/,
    );
  });

  it('fails options its schema refuses, and an abort that hangs or throws the wrong error', async () => {
    await expectFailure(
      datasetConformance(dataset('clusters'), { options: { classes: 1 } }),
      /accepts the given options/,
      /its options schema refused \{"classes":1\}/,
    );
    const stubborn = defineDataset({
      name: 'stubborn',
      summary: 'ignores the signal',
      options: optionsSchema,
      generate: async (ctx, options) => {
        if (ctx.signal?.aborted)
          for (let started = Date.now(); Date.now() - started < 1000; ) await new Promise((resolve) => setTimeout(resolve, 5));
        return clusters({ ...ctx, signal: undefined }, options);
      },
    });
    await expectFailure(datasetConformance(stubborn, { ...small, timeLimitMs: 200 }), /aborted signal/, /did not settle within 200 ms/);
    const rude = defineDataset({
      name: 'rude',
      summary: 'stops with a plain Error',
      options: optionsSchema,
      generate: (ctx, options) => {
        if (ctx.signal?.aborted) throw new Error('stop');
        return clusters(ctx, options);
      },
    });
    await expectFailure(datasetConformance(rude, small), /aborted signal/, /threw stop; expected a HyperprotoError with code E_ABORTED/);
  });
});
