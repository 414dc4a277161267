#!/usr/bin/env node
// `pnpm bench grid`: a grid's whole run with and without the workers' input store, in this one process. Each round
// runs the grid twice with the same worker threads (default: one per core): once with every run making its own
// dataset, prototypes, class-mean baseline and prototype geometry (inputStoreBytes 0), once with each worker keeping
// them for its later runs (the default store); the first round without the store first, the next the other way round.
// It prints the wall time of each session, where the runs' time went (seconds
// per stage summed over the runs), the ratio of the wall times, and checks that both sessions give the same records
// (scores, histories, geometry, data facts) and the same trained weights (SHA-256 of every weight): exit code 1
// when they differ. Then the cost of the store's copies: the seconds a run spent on a reused dataset (a copy) beside
// those of making it, and the seconds of the stages the store can spare (less exposed to the machine's load).
//
//   node bench/grid.bench.mjs [--quick] [--grid=seed-quick|shared-prototypes|all] [--only=PATTERN] [--workers=N] [--rounds=N]
//
// Grids: `seed-quick` (the preset: 3 datasets x 10 models, each dataset shared by 10 runs, no prototype set shared);
// `shared-prototypes` (1,000 classes as in seed-quick, hpn and cosine-softmax over the same Tammes prototypes of
// D = 1,000 with its default 1,000 steps, two seeds: four runs, each prototype set used by two). Default: both.
// --quick: seed-quick's 1,000-class dataset only, and 100 Tammes steps. On a shared machine the wall times of the two
// sessions see different loads: compare the per-stage seconds too, and use --rounds=N (sessions alternate which goes
// first; the ratio printed is the median of the rounds') before trusting a small ratio.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPreset, parseGrid, parseResults, RESULTS_FILE, RUN_PHASES, runGrid } from '../dist/index.js';

const args = process.argv.slice(2);
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const workers = flag('workers') ? Number(flag('workers')) : availableParallelism();
if (!(Number.isInteger(workers) && workers > 0)) {
  console.error(`--workers takes a positive whole number, got ${flag('workers')}`);
  process.exit(2);
}
const rounds = flag('rounds') ? Number(flag('rounds')) : 1;
if (!(Number.isInteger(rounds) && rounds > 0)) {
  console.error(`--rounds takes a positive whole number, got ${flag('rounds')}`);
  process.exit(2);
}
const which = flag('grid') ?? 'all';
if (!['seed-quick', 'shared-prototypes', 'all'].includes(which)) {
  console.error(`--grid takes seed-quick, shared-prototypes or all, got ${which}`);
  process.exit(2);
}
const registryModule = fileURLToPath(new URL('./grid-registry.mjs', import.meta.url));

async function sharedPrototypesGrid() {
  const seedQuick = await loadPreset('seed-quick');
  const c1000 = seedQuick.datasets.find((d) => d.id === 'c1000');
  const tammes = { strategy: 'tammes', dims: 1000, ...(quick ? { options: { steps: 100 } } : {}) };
  return parseGrid({
    name: 'shared-prototypes',
    seeds: 2,
    datasets: [c1000],
    models: [
      { id: 'hpn-tammes', head: 'hpn', prototypes: tammes },
      { id: 'cosine-softmax-tammes', head: 'cosine-softmax', prototypes: tammes },
    ],
    trainer: seedQuick.trainer,
    evaluators: seedQuick.evaluators,
  });
}

/** One session of the grid into a fresh directory: its outcome, records by key and weight hashes by key. */
async function session(grid, only, inputStoreBytes) {
  const root = mkdtempSync(join(tmpdir(), 'hyperproto-bench-grid-'));
  try {
    const out = join(root, 'results');
    const load = loadavg()[0];
    const outcome = await runGrid({
      grid,
      out,
      registryModule,
      registryOptions: { config: false, plugins: [] },
      workers,
      saveModels: 'all',
      ...(only ? { only: [only] } : {}),
      ...(inputStoreBytes === undefined ? {} : { inputStoreBytes }),
    });
    const records = new Map(parseResults(readFileSync(join(out, RESULTS_FILE)), 'results').records.map((r) => [r.key, r]));
    const weights = new Map();
    for (const key of records.keys()) {
      const dir = join(out, 'models', ...key.split('/'));
      weights.set(key, readdirSync(dir).includes('weights.sha256') ? readFileSync(join(dir, 'weights.sha256'), 'utf8').trim() : null);
    }
    return { outcome, records, weights, load };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** What two sessions that computed the same must agree on: everything but times, dates and what was reused. */
function results(record) {
  const { seconds, finishedAt, reused, secondsPerEpoch, history, evaluators, ...rest } = record;
  const untimed = Object.fromEntries(Object.entries(evaluators).map(([name, { secondsPerEpoch: _s, ...metrics }]) => [name, metrics]));
  return JSON.stringify({ ...rest, evaluators: untimed, history: history.map(({ seconds: _s, testSeconds: _t, ...epoch }) => epoch) });
}

const pad = (text, width) => String(text).padStart(width);

/** One session without the store and one with it, in this order or (odd rounds) the other: two loads seen alike. */
async function round(grid, only, index) {
  if (index % 2 === 0) {
    const off = await session(grid, only, 0);
    return { off, on: await session(grid, only, undefined) };
  }
  const on = await session(grid, only, undefined);
  return { off: await session(grid, only, 0), on };
}

/** Keys whose record or weights differ between the two sessions (or that one lacks), with the first differences said. */
function differences(off, on) {
  const differing = [...new Set([...off.records.keys(), ...on.records.keys()])].filter(
    (key) =>
      !off.records.has(key) ||
      !on.records.has(key) ||
      results(off.records.get(key)) !== results(on.records.get(key)) ||
      off.weights.get(key) !== on.weights.get(key),
  );
  for (const key of differing.slice(0, 2)) {
    if (!off.records.has(key) || !on.records.has(key)) {
      console.log(`  ${key}: a record of one session only`);
      continue;
    }
    const [a, b] = [JSON.parse(results(off.records.get(key))), JSON.parse(results(on.records.get(key)))];
    const fields = Object.keys(a).filter((field) => JSON.stringify(a[field]) !== JSON.stringify(b[field]));
    console.log(
      `  ${key}: ${fields.length ? `fields ${fields.join(', ')} differ` : 'weights differ'}${fields[0] ? `, e.g. ${fields[0]}: ${JSON.stringify(a[fields[0]]).slice(0, 200)} / ${JSON.stringify(b[fields[0]]).slice(0, 200)}` : ''}`,
    );
  }
  return differing;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

async function bench(name, grid, only) {
  console.log(
    `\n--- ${name}${only ? ` (--only ${only})` : ''}: ${workers} worker thread(s), ${availableParallelism()} cores, ${rounds} round(s)`,
  );
  let ok = true;
  const ratios = [];
  for (let index = 0; index < rounds; index++) {
    const { off, on } = await round(grid, only, index);
    if (rounds > 1) console.log(`round ${index + 1} (${index % 2 === 0 ? 'store off first' : 'store on first'}):`);
    const rows = [
      ['wall', off.outcome.wallSeconds, on.outcome.wallSeconds],
      ...[...RUN_PHASES, 'other', 'total'].map((phase) => [
        phase === 'total' ? 'runs in all' : phase,
        off.outcome.phases.seconds[phase],
        on.outcome.phases.seconds[phase],
      ]),
    ];
    console.log(`${'seconds'.padEnd(12)} ${pad('store off', 10)} ${pad('store on', 10)} ${pad('off / on', 9)}`);
    for (const [label, a, b] of rows)
      console.log(`${label.padEnd(12)} ${pad(a.toFixed(1), 10)} ${pad(b.toFixed(1), 10)} ${pad(b > 0 ? (a / b).toFixed(2) : '-', 9)}`);
    console.log(`runs: ${off.outcome.ran} and ${on.outcome.ran}; reused with the store: ${JSON.stringify(on.outcome.phases.reused)}`);
    console.log(`load average (1 min) at the start of each session: ${off.load.toFixed(1)} (off), ${on.load.toFixed(1)} (on)`);

    // The copies: a reused dataset's data stage is the copy out of the store.
    const dataSeconds = (records, reused) =>
      [...records.values()].filter((r) => (r.reused ?? []).includes('dataset') === reused).map((r) => r.seconds.data);
    const copies = dataSeconds(on.records, true);
    const made = dataSeconds(on.records, false);
    if (copies.length)
      console.log(
        `dataset per run: made ${mean(made).toFixed(3)} s (${made.length} runs), copied out of the store ${(1000 * mean(copies)).toFixed(1)} ms (${copies.length} runs)`,
      );

    const differing = differences(off, on);
    const hashed = [...off.weights.values()].filter(Boolean).length;
    console.log(
      differing.length
        ? `DIFFERENT: ${differing.length} of ${off.records.size} records or weights differ (${differing.slice(0, 3).join(', ')})`
        : `identical: ${off.records.size} records (scores, histories, geometry) and ${hashed} weight hashes`,
    );
    // The stages the store can spare, summed: less exposed to the machine's load than the wall time.
    const shared = (outcome) =>
      ['data', 'prototypes', 'baseline', 'geometry'].reduce((sum, phase) => sum + outcome.phases.seconds[phase], 0);
    console.log(
      `data + prototypes + baseline + geometry: ${shared(off.outcome).toFixed(1)} s without the store, ${shared(on.outcome).toFixed(1)} s with it (${(shared(off.outcome) / shared(on.outcome)).toFixed(2)}x)`,
    );
    ratios.push(off.outcome.wallSeconds / on.outcome.wallSeconds);
    ok &&= differing.length === 0 && off.outcome.failed.length === 0 && on.outcome.failed.length === 0;
  }
  console.log(
    `ratio: ${median(ratios).toFixed(2)} (wall time without the store / with it${rounds > 1 ? `, median of ${ratios.map((r) => r.toFixed(2)).join(', ')}` : ''})`,
  );
  return ok;
}

let ok = true;
if (which !== 'shared-prototypes')
  ok = (await bench('seed-quick', await loadPreset('seed-quick'), flag('only') ?? (quick ? 'c1000' : undefined))) && ok;
if (which !== 'seed-quick')
  ok = (await bench(`shared-prototypes${quick ? ' (100 Tammes steps)' : ''}`, await sharedPrototypesGrid(), flag('only'))) && ok;
process.exit(ok ? 0 : 1);
