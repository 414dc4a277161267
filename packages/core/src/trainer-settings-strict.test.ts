import { describe, expect, it } from 'vitest';
import { ErrorCode, type HyperprotoError } from './errors.js';
import { parseExperimentSpec, TrainerSettingsSchema } from './spec.js';

const base = { dataset: { name: 'gaussian' }, head: { name: 'softmax' } };

function refusal(trainer: Record<string, unknown>): HyperprotoError {
  try {
    parseExperimentSpec({ ...base, trainer });
  } catch (error) {
    return error as HyperprotoError;
  }
  throw new Error('the spec was accepted');
}

describe('trainer settings are strict', () => {
  it('refuses a misspelt setting, naming it and the setting it resembles, instead of training with the default', () => {
    const error = refusal({ max_epochs: 1, hiddenUnits: 8 });
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toBe(
      'experiment spec: trainer: unknown setting "max_epochs" (did you mean "maxEpochs"?); the trainer settings are ' +
        'hiddenUnits, hiddenLayers, dropout, batchSize, learningRate, patience, maxEpochs, traceTest',
    );
    expect(refusal({ maxEpoch: 2 }).message).toMatch(/unknown setting "maxEpoch" \(did you mean "maxEpochs"\?\)/);
  });

  it('names every unknown setting, without a guess where none is close', () => {
    expect(refusal({ epochs: 3, optimizer: 'sgd' }).message).toMatch(
      /trainer: unknown settings "epochs" \(did you mean "maxEpochs"\?\), "optimizer"; the trainer/,
    );
  });

  it('still reports a bad value of a known setting by its path', () => {
    expect(refusal({ dropout: 1 }).message).toMatch(/trainer\.dropout: /);
    expect(refusal({ dropout: 1 }).message).not.toMatch(/unknown setting/);
  });

  it('accepts every known setting, and the defaults alone', () => {
    const all = {
      hiddenUnits: 8,
      hiddenLayers: 1,
      dropout: 0,
      batchSize: 4,
      learningRate: 0.01,
      patience: 2,
      maxEpochs: 3,
      traceTest: true,
    };
    expect(parseExperimentSpec({ ...base, trainer: all }).trainer).toEqual(all);
    expect(TrainerSettingsSchema.parse({}).maxEpochs).toBe(200);
  });

  it('is as strict when an engine parses a training job on its own', () => {
    const result = TrainerSettingsSchema.safeParse({ hiddenUnit: 8 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/unknown setting "hiddenUnit" \(did you mean "hiddenUnits"\?\)/);
  });
});
