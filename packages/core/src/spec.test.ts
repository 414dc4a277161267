import { describe, expect, it } from 'vitest';
import { ErrorCode } from './errors.js';
import { createMatrix } from './matrix.js';
import { checkPrototypes, normalizeRows } from './prototypes.js';
import { parseExperimentSpec } from './spec.js';
import { constantsUsed, h } from './head-graph.js';

describe('parseExperimentSpec', () => {
  it('fills the documented trainer defaults', () => {
    const spec = parseExperimentSpec({ dataset: { name: 'gaussian' }, head: { name: 'softmax' } });
    expect(spec.seed).toBe(0);
    expect(spec.trainer).toEqual({
      hiddenUnits: 300,
      hiddenLayers: 2,
      dropout: 0.3,
      batchSize: 128,
      learningRate: 1e-3,
      patience: 10,
      maxEpochs: 200,
    });
    expect(spec.evaluators).toEqual([{ name: 'classification', options: {} }]);
  });

  it('takes traceTest as a boolean and leaves it out when not given, so older specs keep their form', () => {
    const base = { dataset: { name: 'gaussian' }, head: { name: 'softmax' } };
    expect(parseExperimentSpec({ ...base, trainer: { traceTest: true } }).trainer.traceTest).toBe(true);
    expect('traceTest' in parseExperimentSpec(base).trainer).toBe(false);
    expect(() => parseExperimentSpec({ ...base, trainer: { traceTest: 'yes' } })).toThrow(/trainer\.traceTest/);
  });

  it('takes an engine as a name (as records and grids written before engine options have it) or with options', () => {
    const base = { dataset: { name: 'gaussian' }, head: { name: 'softmax' } };
    expect(parseExperimentSpec({ ...base, engine: 'onnxruntime' }).engine).toEqual({ name: 'onnxruntime', options: {} });
    expect(parseExperimentSpec({ ...base, engine: { name: 'onnxruntime' } }).engine).toEqual({ name: 'onnxruntime', options: {} });
    expect(parseExperimentSpec({ ...base, engine: { name: 'onnxruntime', options: { provider: 'cpu' } } }).engine).toEqual({
      name: 'onnxruntime',
      options: { provider: 'cpu' },
    });
    expect(parseExperimentSpec(base).engine).toBeUndefined();
    expect(() => parseExperimentSpec({ ...base, engine: '' })).toThrow(/engine/);
    expect(() => parseExperimentSpec({ ...base, engine: { options: {} } })).toThrow(/engine/);
  });

  it('names the path of a bad field', () => {
    expect(() => parseExperimentSpec({ seed: -1, dataset: { name: 'g' }, head: { name: 'h' } })).toThrow(/seed: /);
    expect(() => parseExperimentSpec({ dataset: { name: 'g' }, head: { name: 'h' }, trainer: { dropout: 1 } })).toThrow(/trainer\.dropout/);
    expect(() => parseExperimentSpec({ dataset: { name: 'g' }, head: { name: 'h' }, prototypes: { strategy: 'random', dims: 0 } })).toThrow(
      /prototypes/,
    );
  });
});

describe('checkPrototypes', () => {
  it('accepts unit rows of the right shape', () => {
    const m = normalizeRows(createMatrix(2, 2, new Float32Array([3, 4, 0, 2])), 'test');
    expect([...m.data]).toEqual([0.6000000238418579, 0.800000011920929, 0, 1]);
    expect(checkPrototypes(m, { classes: 2, dims: 2 }, 'test')).toBe(m);
  });

  it('rejects a wrong shape, a non-finite value, a non-unit row and a zero row', () => {
    const m = createMatrix(2, 2, new Float32Array([1, 0, 0, 1]));
    expect(() => checkPrototypes(m, { classes: 3, dims: 2 }, 'file.npy')).toThrow(
      /^file\.npy holds prototypes of shape 2 x 2; expected 3 x 2 \(one row per class\)$/,
    );
    expect(() => checkPrototypes(createMatrix(1, 2, new Float32Array([NaN, 0])), { classes: 1 }, 's')).toThrow(
      /non-finite value at row 0, column 0/,
    );
    expect(() => checkPrototypes(createMatrix(1, 2, new Float32Array([2, 0])), { classes: 1 }, 's')).toThrow(/L2 norm 2/);
    try {
      normalizeRows(createMatrix(1, 2, new Float32Array([0, 0])), 'z');
      expect.unreachable();
    } catch (error) {
      expect((error as { code: string }).code).toBe(ErrorCode.InvalidInput);
    }
  });
});

describe('head expressions', () => {
  it('lists the constants an expression uses', () => {
    const scores = h.matmulTransposed(h.l2normalize(h.output()), h.constant('prototypes'));
    expect([...constantsUsed(scores)]).toEqual(['prototypes']);
    expect(constantsUsed(h.mean(h.logSoftmax(h.output()))).size).toBe(0);
  });
});
