import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode, type HyperprotoError } from './errors.js';
import { resolveOptions, unknownKeysErrorMap, unknownKeysText } from './options.js';
import { planExperiment } from './pipeline.js';
import { defineDataset, defineHead } from './plugins.js';
import { createRegistry } from './registry.js';
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

  it('refuses an own __proto__ key of any plugin options (JSON.parse and key=value flags make one) as an unknown option', () => {
    const strict = z.strictObject({ classes: z.number(), perClass: z.number().default(4) });
    const dataset = (options: z.ZodType) => defineDataset({ name: 'blobs', summary: 's', options, generate: () => ({}) as never });
    const expected = 'dataset:blobs: unknown option "__proto__"; the options here are classes, perClass';
    const raw = JSON.parse('{"classes": 3, "__proto__": {"perClass": 9}}');
    for (const options of [strict, strict.strip(), strict.loose(), strict.partial().default({ classes: 3 })]) {
      const error = refusal(() => resolveOptions(dataset(options), raw));
      expect(error).toMatchObject({ code: ErrorCode.InvalidOptions, pluginId: 'dataset:blobs', message: expected });
      expect(error.hint).toMatch(/hyperproto plugins --kind dataset/);
    }
    // Kept through the spec, whose options records zod's z.record would drop it from, to every plugin's check.
    const spec = parseExperimentSpec(
      JSON.parse(
        '{"dataset": {"name": "blobs", "options": {"__proto__": 1}}, "head": {"name": "plain", "options": {"__proto__": {"a": 1}}}, "engine": {"name": "e", "options": {"__proto__": 1}}, "prototypes": {"strategy": "s", "options": {"__proto__": 1}}, "evaluators": [{"name": "v", "options": {"__proto__": 1}}]}',
      ),
    );
    for (const options of [spec.dataset.options, spec.head.options, spec.engine!.options, spec.evaluators[0]!.options])
      expect(Object.keys(options)).toEqual(['__proto__']);
    expect(spec.prototypes && 'strategy' in spec.prototypes && Object.keys(spec.prototypes.options)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(spec.head.options)).toBe(Object.prototype);
    // The plugin's own check then refuses it, as `constructor` would be.
    const registry = createRegistry(
      dataset(strict),
      defineHead({ name: 'plain', summary: 's', options: z.strictObject({}), usesPrototypes: false, build: () => ({}) as never }),
    );
    const headSpec = (key: string) =>
      parseExperimentSpec(
        JSON.parse(`{"dataset": {"name": "blobs", "options": {"classes": 3}}, "head": {"name": "plain", "options": {"${key}": 1}}}`),
      );
    expect(refusal(() => planExperiment(registry, headSpec('__proto__'))).message).toBe(
      'head:plain: unknown option "__proto__"; there are no options here',
    );
    expect(refusal(() => planExperiment(registry, headSpec('constructor'))).message).toBe(
      'head:plain: unknown option "constructor"; there are no options here',
    );
    expect(refusal(() => parseExperimentSpec({ dataset: { name: 'blobs', options: [] }, head: { name: 'plain' } })).message).toBe(
      'experiment spec: dataset.options: expected an object of options',
    );
  });
});
