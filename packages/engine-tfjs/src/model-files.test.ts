import { createMatrix, createRng, ErrorCode, type Dataset, type TrainedModel } from '@hyperproto/core';
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
    await editJson(dir, (json) => (json.formatVersion = 2));
    await expect(loadModel(dir)).rejects.toMatchObject({ code: ErrorCode.Unsupported, message: expect.stringMatching(/format version 2/) });
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
