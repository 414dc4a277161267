// `experiment --grid FILE` names the grid; --config and --no-config mean what they mean for every command. Plugins
// load from the config, then the grid's "plugins", then --plugin, and a module named twice with the same options once.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';
import { tinyGrid } from './test-support/tiny-runs.js';

const scratch = mkdtempSync(join(tmpdir(), 'hyperproto-grid-flag-'));
const cli = (args: string[]) => runCli(args, scratch);

/**
 * A factory: every call makes a new plugin object, so loading the module twice would register two different
 * strategies named tiny-axes, which the registry refuses. `sign` flips the axes.
 */
const AXES_FACTORY = `import { definePrototypeStrategy, createMatrix, z } from '@hyperproto/core';
export default ({ sign = 1 } = {}) => definePrototypeStrategy({
  name: 'tiny-axes',
  summary: 'signed unit axes',
  options: z.object({}).strict(),
  generate: (_ctx, { classes, dims }) => {
    const m = createMatrix(classes, dims);
    for (let i = 0; i < classes; i++) m.data[i * dims + (i >> 1)] = (i % 2 ? -1 : 1) * sign;
    return m;
  },
});
`;

/** One run: the HPN on the plugin's prototypes, 1 seed; `plugins` is the grid's own list. */
const axesGrid = (name: string, plugins?: unknown[]) => ({
  ...tinyGrid(name, 1, [{ id: 'axes', head: 'hpn', prototypes: { strategy: 'tiny-axes', dims: 4 } }], { maxEpochs: 3, patience: 2 }),
  ...(plugins ? { plugins } : {}),
});

const write = (name: string, value: unknown) => writeFileSync(join(scratch, name), JSON.stringify(value));
const records = (out: string) =>
  readFileSync(join(scratch, out, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { key: string; plugins: { kind: string; name: string; source: string }[] });
const axesOrigin = (out: string) => records(out)[0]!.plugins.find((p) => p.kind === 'prototypes');
const RUN = ['--workers', '1', '--save-models', 'none', '--json'];

beforeAll(() => {
  writeFileSync(join(scratch, 'axes.mjs'), AXES_FACTORY);
  write('hyperproto.config.json', { plugins: [['./axes.mjs', { sign: -1 }]] });
  write('axes-grid.json', axesGrid('axes-grid'));
  mkdirSync(join(scratch, 'grids'));
  // Relative to the grid file: the same module and options as the config's, spelled from another directory.
  write('grids/same.json', axesGrid('same', [['../axes.mjs', { sign: -1 }]]));
  write('grids/other-options.json', axesGrid('other-options', [['../axes.mjs', { sign: 1 }]]));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('experiment --grid', () => {
  it("runs a grid that uses a plugin of the directory's hyperproto.config.json; the grid's name names --out", async () => {
    const run = await cli(['experiment', '--grid', 'axes-grid.json', ...RUN]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ran: 1, failed: [], total: 1 });
    expect(records('runs/axes-grid').map((r) => r.key)).toEqual(['c3/axes/s0']);
    expect(axesOrigin('runs/axes-grid')).toMatchObject({ name: 'tiny-axes', source: './axes.mjs' });
  });

  it.each([
    ['after', ['--grid', 'axes-grid.json', '--no-config']],
    ['before', ['--no-config', '--grid', 'axes-grid.json']],
  ])('--no-config %s --grid loads no config and still takes the grid', async (_, flags) => {
    const run = await cli(['experiment', ...flags, '--out', 'no-config']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown prototype strategy "tiny-axes"/);
    expect(run.stderr).not.toMatch(/name the grid/);
  });

  it("--no-config keeps the grid's own plugins, loaded relative to the grid file", async () => {
    const run = await cli(['experiment', '--grid', 'grids/same.json', '--no-config', '--out', 'own-plugins', ...RUN]);
    expect(run.code).toBe(0);
    expect(axesOrigin('own-plugins')).toMatchObject({ name: 'tiny-axes', source: '../axes.mjs' });
  });

  it('loads a module named by the config and by the grid with the same options once, from the config; other options clash', async () => {
    const run = await cli(['experiment', '--grid', 'grids/same.json', '--plugin', './axes.mjs', '--out', 'twice', ...RUN]);
    // --plugin ./axes.mjs has other options (none): the registry refuses it, naming both entries.
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error.message).toBe(
      `--plugin ./axes.mjs: a different prototype strategy named "tiny-axes" is already registered, by ${join(scratch, 'hyperproto.config.json')} plugins.0`,
    );

    const once = await cli(['experiment', '--grid', 'grids/same.json', '--out', 'once', ...RUN]);
    expect(once.code).toBe(0);
    expect(axesOrigin('once')).toMatchObject({ name: 'tiny-axes', source: './axes.mjs' });
  });

  it('refuses the same module with other options in the grid, naming both entries', async () => {
    const run = await cli(['experiment', '--grid', 'grids/other-options.json', '--out', 'clash']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${join(scratch, 'grids/other-options.json')} plugins.0: a different prototype strategy named "tiny-axes" is already registered, by ${join(scratch, 'hyperproto.config.json')} plugins.0`,
    );
    expect(run.stderr).toContain('The same module is named twice with different options');
  });

  it('refuses --preset with --grid', async () => {
    const run = await cli(['experiment', '--preset', 'seed-quick', '--grid', 'axes-grid.json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/give --preset or --grid, not both/);
  });

  it('--help names --grid and the order plugins load in', async () => {
    const run = await cli(['experiment', '--help']);
    expect(run.stdout).toMatch(/--grid <file> +a grid file/);
    expect(run.stdout).toMatch(/--config <file> +config file/);
    expect(run.stdout).toContain('$ hyperproto experiment --grid my-grid.json');
  });
});

describe('experiment --config GRID (deprecated)', () => {
  it("still runs the grid, with the directory's config, and a note on stderr (not on --json's stdout)", async () => {
    const run = await cli(['experiment', '--config', 'axes-grid.json', '--out', 'deprecated', ...RUN]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('note: --config for a grid file is deprecated: use --grid axes-grid.json\n');
    expect(JSON.parse(run.stdout)).toMatchObject({ ran: 1, failed: [] });
    expect(axesOrigin('deprecated')).toMatchObject({ name: 'tiny-axes', source: './axes.mjs' });
  });

  it('says when --no-config cancelled a --config grid, and names --grid', async () => {
    const run = await cli(['experiment', '--config', 'axes-grid.json', '--no-config']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/name the grid: --preset NAME or --grid FILE/);
    expect(run.stderr).toMatch(/--no-config cancelled it .*give the grid as --grid FILE/);
  });

  it('refuses a --config file that is not a grid, saying what --config names', async () => {
    const run = await cli(['experiment', '--config', 'hyperproto.config.json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/hyperproto\.config\.json is not a grid .*--config names the plugin config file, --grid FILE the grid/);
  });
});
