// `pnpm bench prototypes`: for each size of issue 3's table, the time and exact largest cosine of every prototype
// strategy that can serve it, and of the HPN reference procedure given the same time as spread, as ratios.
//
//   node bench/prototypes.bench.mjs [--quick] [--sizes=1000x100,10000x100,100000x100,1000x1000] [--strategies=a,b,...]
//
// --quick runs the two 1,000-class sizes only (a minute); the full run takes about 15 minutes on 2 idle cores.
// Each run happens in its own process, so that times, memory peaks and thread pools do not mix. The largest
// cosine is always the exact one, from the blocked scan over all pairs.
import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRng, resolveOptions } from '@hyperproto/core';
import { withScanner } from '@hyperproto/similarity-scan';
import { hpnReference } from './hpn-reference.mjs';

const SIZES = [
  { classes: 1_000, dims: 100, seconds: 5, random: 0.42, target: 0.16 },
  { classes: 10_000, dims: 100, seconds: 120, random: 0.51, target: 0.22 },
  { classes: 100_000, dims: 100, seconds: 900, random: 0.6, target: 0.32 },
  { classes: 1_000, dims: 1_000, seconds: 5, random: 0.15, target: -0.001 },
];

/** spread's settings per size: the defaults, fewer steps where C is small, refinement of codes where C is huge. */
function spreadRuns({ classes }) {
  if (classes <= 2_000) return [{ options: { steps: 150 } }];
  if (classes <= 20_000) return [{ options: {} }, { start: 'codes', options: { steps: 100, learningRate: 0.001 } }];
  return [{ start: 'codes', options: { steps: 60, neighbours: 16, refreshEvery: 10, learningRate: 0.0005, temperature: 0.01 } }];
}

const STRATEGIES = ['random', 'orthogonal', 'simplex', 'orthoplex', 'codes', 'spread', 'optimized', 'tammes'];
const SEED = 1;
const PACKAGE = {
  random: 'prototypes-random',
  optimized: 'prototypes-optimized',
  tammes: 'prototypes-tammes',
  spread: 'prototypes-spread',
  orthogonal: 'prototypes-orthogonal',
  simplex: 'prototypes-simplex',
  orthoplex: 'prototypes-orthoplex',
  codes: 'prototypes-codes',
};

// The CLI depends on every strategy, so they are resolved by package name from there.
const fromCli = createRequire(fileURLToPath(new URL('../../../apps/cli/package.json', import.meta.url)));
async function loadStrategy(name) {
  return (await import(pathToFileURL(fromCli.resolve(`@hyperproto/${PACKAGE[name]}`)).href)).default;
}

async function largestCosine(prototypes) {
  return withScanner(async (scanner) => (await scanner.summarize(prototypes)).largestCosine);
}

/** One measured run, in this process: prints a JSON line. */
async function runOne({ strategy, classes, dims, options = {}, start, budget }) {
  const request = { classes, dims };
  const cpu = process.cpuUsage();
  const started = performance.now();
  let prototypes;
  let steps;
  if (strategy === 'hpn-reference') {
    ({ prototypes, steps } = await hpnReference(createRng(SEED).fork('prototypes'), classes, dims, budget));
  } else {
    const plugin = await loadStrategy(strategy);
    const ctx = (stage) => ({ seed: SEED, rng: createRng(SEED).fork(stage) });
    const extra = {};
    if (start) {
      const from = await loadStrategy(start);
      extra.start = await from.generate(ctx('start'), request, resolveOptions(from, {}));
    }
    prototypes = await plugin.generate(ctx('prototypes'), request, resolveOptions(plugin, { ...options, ...extra }));
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const maxCosine = await largestCosine(prototypes);
  const peakMegabytes = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ seconds, cpuSeconds: (used.user + used.system) / 1e6, maxCosine, steps, peakMegabytes })}\n`);
}

function measure(spec) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--run', JSON.stringify(spec)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const result = JSON.parse(out.trim().split('\n').at(-1));
  // The table needs the reference, which runs last; say what each run gave as it ends.
  process.stderr.write(
    `  measured ${spec.strategy} ${spec.classes}x${spec.dims} ${JSON.stringify({ ...spec.options, start: spec.start })}: ${JSON.stringify(result)}\n`,
  );
  return result;
}

const TRIAL_STEPS = [2, 10];

/**
 * Steps of an all-pairs optimiser (one O(C^2 D) scan a step) that fit the size's time limit, up to its default
 * 1,000. Two short trials separate the cost of a step from the start-up cost; a trial is kept when no more fit.
 */
function stepsWithin(strategy, size) {
  const trials = [];
  for (const steps of TRIAL_STEPS) {
    trials.push(measure({ strategy, classes: size.classes, dims: size.dims, options: { steps } }));
    if (trials.at(-1).seconds >= size.seconds) return { steps, trial: trials.at(-1) };
  }
  const [short, long] = trials;
  const perStep = Math.max((long.seconds - short.seconds) / (TRIAL_STEPS[1] - TRIAL_STEPS[0]), 1e-6);
  const startUp = Math.max(0, short.seconds - TRIAL_STEPS[0] * perStep);
  const steps = Math.max(TRIAL_STEPS[1], Math.min(1000, Math.floor((size.seconds - startUp) / perStep)));
  return { steps, trial: steps === TRIAL_STEPS[1] ? long : undefined };
}

async function main() {
  const args = process.argv.slice(2);
  // `--name value` or `--name=value` (the root `pnpm bench` passes on only words that start with a dash).
  const argument = (name) => {
    const joined = args.find((a) => a.startsWith(`${name}=`));
    if (joined) return joined.slice(name.length + 1);
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  if (argument('--run')) return runOne(JSON.parse(argument('--run')));
  const sizes = argument('--sizes')
    ? argument('--sizes')
        .split(',')
        .map((text) => {
          const [classes, dims] = text.split('x').map(Number);
          return (
            SIZES.find((s) => s.classes === classes && s.dims === dims) ?? { classes, dims, seconds: Infinity, random: NaN, target: NaN }
          );
        })
    : args.includes('--quick')
      ? SIZES.filter((s) => s.classes <= 1_000)
      : SIZES;
  const chosen = argument('--strategies') ? argument('--strategies').split(',') : STRATEGIES;
  console.log(
    `# prototypes benchmark: ${availableParallelism()} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at start, seed ${SEED}`,
  );
  console.log('# time = wall seconds of generation; cpu = CPU seconds of all threads; largest cos = exact, over all pairs');
  for (const size of sizes) {
    const { classes, dims } = size;
    const targetText = dims >= classes ? `0 (orthogonal) / ${size.target} (simplex)` : `<= ${size.target}`;
    console.log(`\n## C = ${classes}, D = ${dims}: random gives about ${size.random}; target ${targetText} in <= ${size.seconds} s`);
    console.log('| strategy | settings | time s | cpu s | largest cos | time / reference | cos / reference | target |');
    console.log('|---|---|---|---|---|---|---|---|');
    const rows = [];
    for (const strategy of chosen) {
      const plugin = await loadStrategy(strategy);
      const why = plugin.unsupported?.({ classes, dims }, resolveOptions(plugin, {}));
      if (why) {
        rows.push({ strategy, settings: `n/a: ${why}` });
        continue;
      }
      const runs = strategy === 'spread' ? spreadRuns(size) : [{ options: {} }];
      for (const run of runs) {
        let options = run.options;
        let note = '';
        let result;
        if (strategy === 'optimized' || strategy === 'tammes') {
          const { steps, trial } = stepsWithin(strategy, size);
          options = { steps };
          note = steps < 1000 ? ' (capped to the time limit)' : '';
          result = trial;
        }
        result ??= measure({ strategy, classes, dims, options, start: run.start });
        const settings =
          [run.start ? `start=${run.start}` : '', ...Object.entries(options).map(([k, v]) => `${k}=${v}`)].filter(Boolean).join(' ') + note;
        rows.push({ strategy, settings: settings || 'defaults', ...result });
      }
    }
    // The reference gets as long as the slowest spread run took.
    const spreadTimes = rows.filter((r) => r.strategy === 'spread' && r.seconds !== undefined).map((r) => r.seconds);
    const budget = spreadTimes.length ? Math.max(...spreadTimes) : size.seconds;
    const reference = measure({ strategy: 'hpn-reference', classes, dims, budget });
    rows.push({
      strategy: 'hpn-reference',
      settings: `Mettes et al.: SGD lr 0.1, renormalise; ${reference.steps} full C x C steps in spread's time`,
      ...reference,
    });
    for (const row of rows) {
      if (row.seconds === undefined) {
        console.log(`| ${row.strategy} | ${row.settings} | | | | | | |`);
        continue;
      }
      const met = dims >= classes ? row.maxCosine <= (row.strategy === 'simplex' ? size.target : 1e-6) : row.maxCosine <= size.target;
      const inTime = row.seconds <= size.seconds;
      const verdict = row.strategy === 'hpn-reference' ? '' : `${met ? 'met' : 'not met'}${met && !inTime ? ' (over time)' : ''}`;
      console.log(
        `| ${row.strategy} | ${row.settings} | ${row.seconds.toFixed(2)} | ${row.cpuSeconds.toFixed(1)} | ${row.maxCosine.toFixed(4)} | ${(row.seconds / reference.seconds).toFixed(3)} | ${(row.maxCosine / reference.maxCosine).toFixed(3)} | ${verdict} |`,
      );
    }
    const peak = Math.max(...rows.filter((r) => r.peakMegabytes).map((r) => r.peakMegabytes));
    console.log(`\npeak memory of any single run: ${(peak / 1024).toFixed(2)} GiB`);
  }
}

await main();
