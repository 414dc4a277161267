// A registry of tiny, fast, deterministic plugins for the package's tests: no training framework involved.
import {
  createMatrix,
  createRegistry,
  defineDataset,
  defineEngine,
  defineEvaluator,
  defineHead,
  definePrototypeStrategy,
  ErrorCode,
  h,
  HyperprotoError,
  z,
  type Registry,
} from '@hyperproto/core';

const blobs = defineDataset({
  name: 'blobs',
  summary: 'labels only, for tests',
  options: z.strictObject({ classes: z.number().int().min(2), perClass: z.number().int().min(1).default(4) }),
  describe: ({ classes, perClass }) => ({ classes, trainRows: classes * perClass, inputWidth: 2 }),
  generate(ctx, { classes, perClass }) {
    const split = () => {
      const labels = new Int32Array(classes * perClass).map((_, i) => i % classes);
      const features = createMatrix(labels.length, 2);
      ctx.rng.fillNormal(features.data);
      return { features, labels };
    };
    const train = split();
    const validation = split();
    const test = split();
    return {
      classes,
      inputWidth: 2,
      train,
      validation,
      test,
      reference: { name: 'truth', testPredictions: test.labels },
      info: { rows: { train: train.labels.length } },
    };
  },
});

const axes = definePrototypeStrategy({
  name: 'axes',
  summary: 'signed unit axes',
  options: z.strictObject({}),
  unsupported: ({ classes, dims }) => (classes > 2 * dims ? 'needs dims >= classes / 2' : undefined),
  generate(_ctx, { classes, dims }) {
    const m = createMatrix(classes, dims);
    for (let i = 0; i < classes; i++) m.data[i * dims + (i >> 1)] = i % 2 ? -1 : 1;
    return m;
  },
});

/** A head whose loss is the mean output and whose scores are the output itself: enough for planning and runs. */
export const fakeHead = (name: string, usesPrototypes: boolean) =>
  defineHead({
    name,
    summary: 'test head',
    usesPrototypes,
    options: z.strictObject({}),
    build: ({ classes, prototypes }) => ({
      outputUnits: prototypes?.cols ?? classes,
      loss: h.mean(h.output()),
      scores: h.output(),
      scoresName: 'scores',
      constants: {},
    }),
  });

const evaluator = defineEvaluator({
  name: 'classification',
  summary: 'accuracy and macro-F1',
  options: z.strictObject({ perClass: z.boolean().default(false) }),
  evaluate({ classes, labels, predictions }) {
    let correct = 0;
    const tp = new Float64Array(classes);
    const predicted = new Float64Array(classes);
    const actual = new Float64Array(classes);
    labels.forEach((label, i) => {
      const p = predictions[i]!;
      if (p === label) {
        correct++;
        tp[label] = tp[label]! + 1;
      }
      predicted[p] = predicted[p]! + 1;
      actual[label] = actual[label]! + 1;
    });
    let f1 = 0;
    for (let c = 0; c < classes; c++) f1 += tp[c]! === 0 ? 0 : (2 * tp[c]!) / (predicted[c]! + actual[c]!);
    return { accuracy: correct / labels.length, macroF1: f1 / classes };
  },
});

/**
 * Pretends to train: `skill` is the share of test rows it labels right (the rest are shifted by one class); the
 * kept epoch's validation accuracy grows with the seed (3 + seed % 3 epochs),
 * `delayMs` makes each epoch take real time, and `failOn` makes runs with that seed fail. FAKE_ENGINE_NAN_LOSS_SEED
 * gives that seed's epochs a NaN training loss (an engine breaking its contract); FAKE_ENGINE_TEST_LOSS_OVERFLOW a
 * traced test loss of Infinity (a test split the model scores very badly).
 */
const engine = defineEngine({
  name: 'fake',
  summary: 'a pretend trainer',
  priority: 1,
  options: z.strictObject({}),
  async probe() {
    return { ok: true, backend: 'fake/cpu', skipped: [] };
  },
  async train(ctx, job) {
    const epochs = 3 + (ctx.seed % 3);
    const history = [];
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (ctx.signal?.aborted) throw new HyperprotoError(ErrorCode.Aborted, 'interrupted');
      const delay = Number(process.env.FAKE_ENGINE_DELAY_MS ?? 0);
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      ctx.progress?.(epoch, epochs, `epoch ${epoch}`);
      const nanLoss = process.env.FAKE_ENGINE_NAN_LOSS_SEED !== undefined && Number(process.env.FAKE_ENGINE_NAN_LOSS_SEED) === ctx.seed;
      history.push({
        epoch,
        trainLoss: nanLoss ? Number.NaN : 1 / epoch,
        validationLoss: 1 / epoch,
        validationAccuracy: 0.5 + epoch / (2 * epochs),
        validationMacroF1: 0.4 + epoch / (2 * epochs),
        seconds: 0.01 * job.head.outputUnits,
        ...(job.trainer.traceTest
          ? {
              testLoss: process.env.FAKE_ENGINE_TEST_LOSS_OVERFLOW ? Number.POSITIVE_INFINITY : 2 / epoch,
              testAccuracy: 0.45 + epoch / (2 * epochs),
              testMacroF1: 0.35 + epoch / (2 * epochs),
            }
          : {}),
      });
    }
    if (process.env.FAKE_ENGINE_FAIL_SEED !== undefined && Number(process.env.FAKE_ENGINE_FAIL_SEED) === ctx.seed) {
      throw new HyperprotoError(ErrorCode.TrainingFailed, `training diverged (seed ${ctx.seed})`);
    }
    // FAKE_ENGINE_TEST_SKILL_BY_SEED ("0.9,0.5"): the test skill of each seed, to set test against validation.
    const skillBySeed = process.env.FAKE_ENGINE_TEST_SKILL_BY_SEED?.split(',').map(Number)[ctx.seed];
    const skill = skillBySeed ?? (job.head.outputUnits >= job.dataset.classes ? 0.9 : 0.6);
    const rng = ctx.rng.fork('predictions');
    return {
      bestEpoch: epochs - 1,
      history,
      backend: 'fake/cpu',
      model: {
        inputWidth: job.dataset.inputWidth,
        classes: job.dataset.classes,
        trainer: job.trainer,
        head: job.head,
        weights: [],
        async predict(features) {
          const labels = job.dataset.test.labels.map((label) => (rng.float() < skill ? label : (label + 1) % job.dataset.classes));
          return { scores: createMatrix(features.rows, job.dataset.classes), labels: labels.slice(0, features.rows) };
        },
        dispose() {},
      },
    };
  },
});

export function buildRegistry(): Registry {
  return createRegistry([blobs, axes, fakeHead('softmax', false), fakeHead('hpn', true), evaluator, engine]);
}

export function versions(): Record<string, string> {
  return { '@hyperproto/fake-plugins': '0.0.0', '@tensorflow/tfjs': 'none' };
}
