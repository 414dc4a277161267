import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

// The CLI resolves a plugin's `@hyperproto/core` to its own copy, so a plugin file may live anywhere.
const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-plugins-listing-'));
const cli = (args: string[]) => runCli(args, scratch);

/**
 * A dataset plugin with a described enum option, a bounded one, a union and two that JSON cannot hold (a custom
 * check that says what it expects, a Date), and none of gaussian's or files' keys.
 */
const RING = `import { defineDataset, z } from '@hyperproto/core';
export default defineDataset({
  name: 'ring',
  summary: 'points on a ring',
  options: z.object({
    classes: z.int().min(2).default(3),
    shape: z.enum(['circle', 'ellipse']).default('circle').describe('the curve the points lie on'),
    noise: z.number().min(0).max(1).optional(),
    labels: z.union([z.string(), z.array(z.string())]).optional(),
    centre: z.custom((value) => value instanceof Float64Array, { message: 'expected a Float64Array of 2 numbers' }).optional(),
    since: z.date().optional(),
  }).strict(),
  generate() { throw new Error('ring makes no data: only its options are used here'); },
});
`;

beforeAll(() => writeFileSync(join(scratch, 'ring.mjs'), RING));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('hyperproto plugins', () => {
  it("writes an enum option's values and its bounds and default, one option a line", async () => {
    const run = await cli(['plugins', '--kind', 'engine']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('\n                   provider?: "auto" | "cpu" | "cuda" = "auto"\n');
    const heads = (await cli(['plugins', '--kind', 'head'])).stdout;
    expect(heads).toContain('\n                   scale?: number in (0, 10000] = 16\n');
    // Zod's ±MAX_SAFE_INTEGER on every integer is no bound a plugin chose.
    const data = (await cli(['plugins', '--kind', 'dataset'])).stdout;
    expect(data).toContain('\n                   classes: integer >= 2\n');
    expect(data).toContain('\n                   classNames?: string | string[]\n');
    expect(data).not.toContain('9007199254740991');
  });

  it('writes bounds that a schema states by checks (gt, lte) and names an option that JSON cannot hold', async () => {
    const heads = (await cli(['plugins', '--kind', 'head'])).stdout;
    // cosine-softmax and bottleneck-softmax share core's sampledShare option: gt(0), lte(1).
    expect(heads.split('\n').filter((line) => line === '                   sampledShare?: number in (0, 1] = 1')).toHaveLength(2);
    const prototypes = (await cli(['plugins', '--kind', 'prototypes'])).stdout;
    // spread's start rows: a z.custom check with the message "expected a C x D matrix (...)"; `prototypes --start` makes them.
    expect(prototypes).toContain(
      '\n                   start?: a C x D matrix ({ rows, cols, data: Float32Array }) (not JSON: set from code)\n',
    );
    expect(prototypes).not.toContain(': any');
  });

  it("writes each option's description on its own line under the option", async () => {
    const run = await cli(['plugins', '--kind', 'dataset', '--plugin', './ring.mjs']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      [
        '  ring           points on a ring [./ring.mjs]',
        '                 options:',
        '                   classes?: integer >= 2 = 3',
        '                   shape?: "circle" | "ellipse" = "circle"',
        '                     the curve the points lie on',
        '                   noise?: number in [0, 1]',
        '                   labels?: string | string[]',
        '                   centre?: a Float64Array of 2 numbers (not JSON: set from code)',
        '                   since?: a Date (not JSON: set from code)',
      ].join('\n'),
    );
  });

  it('describes every option of the files dataset, and says when a fraction may be 0', async () => {
    const run = await cli(['plugins', '--kind', 'dataset', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const files = (
      JSON.parse(run.stdout) as { plugins: { name: string; options: { name: string; description?: string }[] }[] }[]
    )[0]!.plugins.find((plugin) => plugin.name === 'files')!;
    expect(files.options.filter((option) => !option.description?.trim()).map((option) => option.name)).toEqual([]);
    // One line each, under the option.
    expect(files.options.filter((option) => option.description!.includes('\n')).map((option) => option.name)).toEqual([]);
    const text = (await cli(['plugins', '--kind', 'dataset'])).stdout;
    expect(text).toContain(
      [
        '                   validationFraction?: number in [0, 1) = 0.1',
        '                     share of each class held out for validation when validationData is not given; then above 0, and below 1 added to testFraction',
        '                   testFraction?: number in [0, 1) = 0.2',
        '                     share of each class held out for testing when testData is not given; then above 0, and below 1 added to validationFraction',
      ].join('\n'),
    );
  });

  it('gives --json the enum values, bounds and descriptions as fields', async () => {
    const run = await cli(['plugins', '--json', '--plugin', './ring.mjs']);
    expect(run.code, run.stderr).toBe(0);
    const plugins = (JSON.parse(run.stdout) as { plugins: { name: string; options: object[] }[] }[]).flatMap((kind) => kind.plugins);
    const options = (name: string) => plugins.find((plugin) => plugin.name === name)?.options;
    expect(options('onnxruntime')).toEqual([
      { name: 'provider', type: '"auto" | "cpu" | "cuda"', enum: ['auto', 'cpu', 'cuda'], default: 'auto', required: false },
    ]);
    expect(options('margin')).toContainEqual({
      name: 'scale',
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10000,
      default: 16,
      required: false,
    });
    expect(options('ring')).toEqual([
      { name: 'classes', type: 'integer', minimum: 2, default: 3, required: false },
      {
        name: 'shape',
        type: '"circle" | "ellipse"',
        enum: ['circle', 'ellipse'],
        default: 'circle',
        description: 'the curve the points lie on',
        required: false,
      },
      { name: 'noise', type: 'number', minimum: 0, maximum: 1, required: false },
      { name: 'labels', type: 'string | string[]', required: false },
      { name: 'centre', type: 'a Float64Array of 2 numbers (not JSON: set from code)', required: false },
      { name: 'since', type: 'a Date (not JSON: set from code)', required: false },
    ]);
    expect(options('bottleneck-softmax')).toContainEqual({
      name: 'sampledShare',
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 1,
      default: 1,
      required: false,
    });
  });
});

describe('flags a plugin dataset has no option for', () => {
  it('names the flags, the dataset they are for, and --dataset-option', async () => {
    const run = await cli(['train', '--plugin', './ring.mjs', '--dataset', 'ring', '--sigma', '2', '--train-per-class', '5', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toEqual({
      code: 'E_INVALID_OPTIONS',
      message: '--dataset ring has no option for --sigma, --train-per-class: those flags are for the gaussian dataset',
      hint: "Drop --sigma, --train-per-class, and give ring's own options as --dataset-option key=value (`hyperproto plugins --kind dataset`, with the same --plugin and --config, lists them).",
    });
  });

  it("refuses a files flag too, and takes a flag the plugin has an option for (ring's --classes)", async () => {
    const run = await cli(['data', 'inspect', '--plugin', './ring.mjs', '--dataset', 'ring', '--classes', '4', '--data', 'x.npy']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error E_INVALID_OPTIONS: --dataset ring has no option for --data: that flag is for the files dataset\n/);
    expect(run.stderr).toMatch(/hint: Drop --data, and give ring's own options as --dataset-option key=value/);
    // With only --classes the flags pass, and the plugin itself runs (and fails, as it always does).
    const accepted = await cli(['data', 'inspect', '--plugin', './ring.mjs', '--dataset', 'ring', '--classes', '4', '--json']);
    expect(JSON.parse(accepted.stdout).error.message).toMatch(/ring makes no data/);
  });
});
