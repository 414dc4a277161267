import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode, type HyperprotoError } from './errors.js';
import { resolveOptions, unknownKeysErrorMap, unknownKeysText } from './options.js';
import { defineDataset } from './plugins.js';
import { parseExperimentSpec } from './spec.js';

function refusal(fn: () => unknown): HyperprotoError {
  try {
    fn();
  } catch (error) {
    return error as HyperprotoError;
  }
  throw new Error('expected a refusal');
}

describe('unknown keys', () => {
  it('names each unknown key with the closest known one where one is close, then every known key', () => {
    expect(unknownKeysText(['datset'], ['name', 'seeds', 'datasets', 'models'], 'field')).toBe(
      'unknown field "datset" (did you mean "datasets"?); the fields here are name, seeds, datasets, models',
    );
    expect(unknownKeysText(['modles', 'colour'], ['models', 'name'], 'field', 'a grid has')).toBe(
      'unknown fields "modles" (did you mean "models"?), "colour"; a grid has models, name',
    );
    expect(unknownKeysText(['x'], [], 'option')).toBe('unknown option "x"; there are no options here');
  });

  it('words a whole parse: the known keys are those of the object that refused the key, at any depth', () => {
    const schema = z.strictObject({ name: z.string(), models: z.array(z.strictObject({ id: z.string(), head: z.string() })) });
    const result = schema.safeParse(
      { name: 'n', modles: [], models: [{ id: 'a', hed: 'softmax', head: 'softmax' }] },
      {
        error: unknownKeysErrorMap('field'),
      },
    );
    expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['models.0', 'unknown field "hed" (did you mean "head"?); the fields here are id, head'],
      ['', 'unknown field "modles" (did you mean "models"?); the fields here are name, models'],
    ]);
    // Other issues keep zod's wording.
    const wrongType = schema.safeParse({ name: 1, models: [] }, { error: unknownKeysErrorMap('field') });
    expect(wrongType.error?.issues[0]?.message).toMatch(/expected string/);
  });

  it("suggests the option meant in a plugin's options", () => {
    const dataset = defineDataset({
      name: 'blobs',
      summary: 's',
      options: z.strictObject({ classes: z.number(), perClass: z.number().default(4) }),
      generate: () => {
        throw new Error('not generated');
      },
    });
    const error = refusal(() => resolveOptions(dataset, { classes: 3, perclass: 2 }));
    expect(error.code).toBe(ErrorCode.InvalidOptions);
    expect(error.message).toBe(
      'dataset:blobs: unknown option "perclass" (did you mean "perClass"?); the options here are classes, perClass',
    );
  });

  it("suggests the field meant at the top of an experiment spec, and keeps the trainer's own wording", () => {
    const spec = { dataset: { name: 'gaussian' }, head: { name: 'softmax' } };
    expect(refusal(() => parseExperimentSpec({ ...spec, evaluator: [] })).message).toMatch(
      /^experiment spec: unknown field "evaluator" \(did you mean "evaluators"\?\); the fields here are seed, dataset, head, /,
    );
    expect(refusal(() => parseExperimentSpec({ ...spec, trainer: { patient: 3 } })).message).toMatch(
      /^experiment spec: trainer: unknown setting "patient" \(did you mean "patience"\?\); the trainer settings are /,
    );
  });
});
