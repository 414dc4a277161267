import { createMatrix, createRng, ErrorCode, h, resolveOptions, type Dataset, type TrainedModel } from '@hyperproto/core';
import { bottleneckSoftmaxHead } from '@hyperproto/head-bottleneck-softmax';
import { hpnHead } from '@hyperproto/head-hpn';
import { softmaxHead } from '@hyperproto/head-softmax';
import { initTfjs, type TfjsRuntime } from '@hyperproto/tfjs-backend';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, saveModel, type ModelJson } from './model-files.js';
import { trainMlp } from './train-mlp.js';
import type { TrainedMlp } from './trained-mlp.js';

let runtime: TfjsRuntime;
let root: string;
let hpnModel: TrainedMlp;
let softmaxModel: TrainedMlp;
let bottleneckModel: TrainedMlp;
let scaledModel: TrainedMlp;
const features = createMatrix(50, 6, createRng(99).fillNormal(new Float32Array(300)));

function dataset(): Dataset {
  const rng = createRng(1);
  const split = (n: number) => ({
    features: createMatrix(n, 6, rng.fillNormal(new Float32Array(n * 6))),
    labels: Int32Array.from({ length: n }, () => rng.int(3)),
  });
  return { classes: 3, inputWidth: 6, train: split(60), validation: split(30), test: split(30), info: {} };
}

beforeAll(async () => {
  runtime = await initTfjs();
  root = await mkdtemp(join(tmpdir(), 'hyperproto-model-files-'));
  const prototypes = createMatrix(3, 2, new Float32Array([1, 0, -0.5, Math.sqrt(3) / 2, -0.5, -Math.sqrt(3) / 2]));
  const hpn = hpnHead.build({ classes: 3, prototypes }, {});
  const softmax = softmaxHead.build({ classes: 3 }, {});
  const trainer = { hiddenUnits: 5, hiddenLayers: 2, dropout: 0.2, batchSize: 16, learningRate: 0.01, patience: 3, maxEpochs: 3 };
  hpnModel = (await trainMlp(runtime, { seed: 1, rng: createRng(1) }, { dataset: dataset(), head: hpn, trainer })).model;
  softmaxModel = (
    await trainMlp(runtime, { seed: 2, rng: createRng(2) }, { dataset: dataset(), head: softmax, trainer: { ...trainer, hiddenLayers: 1 } })
  ).model;
  const bottleneck = bottleneckSoftmaxHead.build({ classes: 3 }, resolveOptions(bottleneckSoftmaxHead, { dims: 4 }));
  bottleneckModel = (await trainMlp(runtime, { seed: 3, rng: createRng(3) }, { dataset: dataset(), head: bottleneck, trainer })).model;
  // A softmax with a learned scalar temperature, the one kind of parameter a version 1 file could hold.
  const logits = h.mul(h.param('scale', 2), h.output());
  const scaled = { ...softmax, loss: h.mean(h.neg(h.pickPerRow(h.logSoftmax(logits), h.labels()))), scores: h.softmax(logits) };
  scaledModel = (await trainMlp(runtime, { seed: 4, rng: createRng(4) }, { dataset: dataset(), head: scaled, trainer })).model;
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirs = 0;
const freshDir = () => join(root, `model-${dirs++}`);

async function expectSamePredictions(a: TrainedModel, b: TrainedModel) {
  const [x, y] = [await a.predict(features), await b.predict(features)];
  expect(y.scores).toEqual(x.scores);
  expect(y.labels).toEqual(x.labels);
}

describe('saveModel / loadModel', () => {
  it.each([
    ['hpn', () => hpnModel],
    ['softmax', () => softmaxModel],
    ['bottleneck-softmax (learned matrix parameters)', () => bottleneckModel],
    ['learned scalar', () => scaledModel],
  ])('round-trips a %s model with identical predictions', async (_, model) => {
    const dir = freshDir();
    const paths = await saveModel(dir, model(), { experiment: 'test', classes: ['a', 'b', 'c'] });
    expect(paths).toEqual({ modelJson: join(dir, 'model.json'), weightsBin: join(dir, 'weights.bin') });
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await loadModel(dir);
    await expectSamePredictions(model(), loaded);
    expect(loaded.weights).toEqual(model().weights);
    expect(loaded.head).toEqual(model().head);
    expect(loaded.trainer).toEqual(model().trainer);
    expect([loaded.inputWidth, loaded.classes, loaded.batchNormEpsilon]).toEqual([6, 3, 1e-3]);
  });

  it('writes model.json in the documented layout, with a manifest that tf.io.decodeWeights reads', async () => {
    const dir = freshDir();
    await saveModel(dir, hpnModel, { note: 'hello' });
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
    expect(json).toMatchObject({
      format: 'hyperproto-mlp',
      formatVersion: 1,
      inputWidth: 6,
      classes: 3,
      trainer: hpnModel.trainer,
      batchNormEpsilon: 1e-3,
      head: { loss: hpnModel.head.loss, scores: hpnModel.head.scores, scoresName: 'scores', outputUnits: 2 },
      metadata: { note: 'hello' },
    });
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0]!.paths).toEqual(['weights.bin']);
    const names = json.weightsManifest[0]!.weights.map((w) => w.name);
    expect(names).toEqual([...hpnModel.weights.map((w) => w.name), 'head/constant/prototypes']);
    expect(json.weightsManifest[0]!.weights.every((w) => w.dtype === 'float32')).toBe(true);

    const { tf } = runtime;
    const bytes = await readFile(join(dir, 'weights.bin'));
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const decoded = tf.io.decodeWeights(
      buffer,
      json.weightsManifest.flatMap((group) => group.weights),
    );
    for (const weight of hpnModel.weights) {
      expect(decoded[weight.name]!.shape).toEqual(weight.shape);
      expect(decoded[weight.name]!.dataSync()).toEqual(weight.data);
    }
    expect(decoded['head/constant/prototypes']!.dataSync()).toEqual(hpnModel.head.constants.prototypes!.data);
    tf.dispose(Object.values(decoded));
  });

  it('stores the head parameters in weights.bin as head/param/<name> in their shapes, as format version 2', async () => {
    const dir = freshDir();
    await saveModel(dir, bottleneckModel);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
    expect(json.formatVersion).toBe(2);
    expect(json.weightsManifest[0]!.weights.slice(-2)).toEqual([
      { name: 'head/param/classifier', shape: [3, 4], dtype: 'float32' },
      { name: 'head/param/bias', shape: [3], dtype: 'float32' },
    ]);
    const loaded = await loadModel(dir);
    expect(loaded.head.params).toEqual(bottleneckModel.head.params);
    // The trained classifier, not a start: predictions depend on it.
    const { tf } = runtime;
    const bytes = await readFile(join(dir, 'weights.bin'));
    const decoded = tf.io.decodeWeights(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      json.weightsManifest[0]!.weights,
    );
    expect(decoded['head/param/classifier']!.dataSync()).toEqual(bottleneckModel.head.params!.classifier);
    tf.dispose(Object.values(decoded));
  });

  it('still loads a version 1 file, whose learned scalar is the value in its expression', async () => {
    const dir = freshDir();
    await saveModel(dir, scaledModel);
    const trained = scaledModel.head.params!.scale![0]!;
    expect(Math.abs(trained - 2)).toBeGreaterThan(1e-3);
    // The layout version 1 wrote: the trained value in the expression, no parameter weights (the last 4 bytes).
    const path = join(dir, 'model.json');
    const json = JSON.parse(await readFile(path, 'utf8'));
    json.formatVersion = 1;
    json.head.loss.x.x.x.x.a.value = trained;
    json.head.scores.x.a.value = trained;
    expect(json.weightsManifest[0].weights.pop()).toEqual({ name: 'head/param/scale', shape: [], dtype: 'float32' });
    await writeFile(path, JSON.stringify(json));
    const weightsBin = join(dir, 'weights.bin');
    await truncate(weightsBin, (await readFile(weightsBin)).byteLength - 4);
    const loaded = await loadModel(dir);
    await expectSamePredictions(scaledModel, loaded);
    expect(loaded.head.params).toEqual({});
  });

  it('overwrites an earlier save and leaves no temporary files', async () => {
    const dir = freshDir();
    await saveModel(dir, softmaxModel);
    await saveModel(dir, hpnModel);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    await expectSamePredictions(hpnModel, await loadModel(dir));
  });

  it('saves a model from another engine (plain TrainedModel fields only)', async () => {
    const { batchNormEpsilon: _, ...foreign } = hpnModel;
    const dir = freshDir();
    await saveModel(dir, foreign);
    await expectSamePredictions(hpnModel, await loadModel(dir));
  });

  it('leaks no tensors', async () => {
    const before = runtime.tf.memory().numTensors;
    const dir = freshDir();
    await saveModel(dir, hpnModel);
    const loaded = await loadModel(dir);
    await loaded.predict(features);
    loaded.dispose();
    expect(runtime.tf.memory().numTensors).toBe(before);
  });
});

describe('loadModel errors name the file and say what is wrong', () => {
  async function saved(): Promise<string> {
    const dir = freshDir();
    await saveModel(dir, hpnModel);
    return dir;
  }
  async function editJson(dir: string, edit: (json: Record<string, any>) => void) {
    const path = join(dir, 'model.json');
    const json = JSON.parse(await readFile(path, 'utf8'));
    edit(json);
    await writeFile(path, JSON.stringify(json));
  }

  it('a truncated weights.bin', async () => {
    const dir = await saved();
    await truncate(join(dir, 'weights.bin'), 100);
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/weights\.bin has 100 bytes, but .*model\.json describes \d+: the file is truncated/),
    });
  });

  it('a missing directory or weights.bin', async () => {
    await expect(loadModel(join(root, 'nowhere'))).rejects.toMatchObject({
      code: ErrorCode.Io,
      message: expect.stringMatching(/cannot read .*nowhere.model\.json/),
    });
    const dir = await saved();
    await rm(join(dir, 'weights.bin'));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.Io,
      message: expect.stringMatching(/cannot read .*weights\.bin/),
    });
  });

  it('a model.json that is not JSON, or not ours', async () => {
    const dir = await saved();
    await writeFile(join(dir, 'model.json'), '{"format": "hyperproto-mlp", ');
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/model\.json is not valid JSON/),
    });
    await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model' }));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/model\.json is not a hyperproto model file: format/),
    });
  });

  it('a newer format version', async () => {
    const dir = await saved();
    await editJson(dir, (json) => (json.formatVersion = 3));
    await expect(loadModel(dir)).rejects.toMatchObject({ code: ErrorCode.Unsupported, message: expect.stringMatching(/format version 3/) });
  });

  it('head parameters missing, of another shape, or unknown to the head', async () => {
    const savedBottleneck = async () => {
      const dir = freshDir();
      await saveModel(dir, bottleneckModel);
      return dir;
    };
    let dir = await savedBottleneck();
    // The classifier [3, 4] left out of the manifest, and as many bytes (48) of weights.bin: the file is whole, but a
    // drawn parameter without values cannot predict.
    await editJson(dir, (json) => json.weightsManifest[0].weights.splice(-2, 1));
    await truncate(join(dir, 'weights.bin'), (await readFile(join(dir, 'weights.bin'))).byteLength - 4 * 12);
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(
        /model\.json: head parameter "classifier" starts from glorotUniform values drawn when training starts/,
      ),
    });
    dir = await savedBottleneck();
    await editJson(dir, (json) => (json.weightsManifest[0].weights.at(-1).shape = [1, 3]));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/weight "head\/param\/bias" has shape \[1, 3\], but the head's parameter has the shape \[3\]/),
    });
    dir = await savedBottleneck();
    await editJson(dir, (json) => (json.weightsManifest[0].weights.at(-1).name = 'head/param/offset'));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/model\.json: the head has no parameter "offset" \(has: classifier, bias\)/),
    });
  });

  it('an unknown head operation, with the path to it', async () => {
    const dir = await saved();
    await editJson(dir, (json) => (json.head.scores.a = { op: 'cosine' }));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/head\.scores\.a: unknown head operation "cosine"/),
    });
  });

  it('a manifest that disagrees with the network, or points outside the directory', async () => {
    let dir = await saved();
    await editJson(dir, (json) => (json.trainer.hiddenUnits = 7));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/weight "trunk\/dense0\/kernel" has shape \[6, 5\].*expected \[6, 7\]/),
    });
    dir = await saved();
    await editJson(dir, (json) => (json.weightsManifest[0].paths = ['../weights.bin']));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/must be a file name in the model directory/),
    });
    dir = await saved();
    await editJson(dir, (json) => json.weightsManifest[0].weights.pop());
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(/longer than expected/),
    });
  });
});
