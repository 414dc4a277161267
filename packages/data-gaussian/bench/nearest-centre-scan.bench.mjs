#!/usr/bin/env node
// `pnpm bench nearest-centre-scan`: the Bayes-optimal reference (nearest true centre) and the class-mean baseline,
// by their plain loops and by the onnxruntime scans that give the same predictions, on Gaussian clusters of the
// seed's width (300) with 10,000 and 100,000 classes, in this one run with one onnxruntime thread (as each worker
// of a two-core experiment gets). Times are the process's CPU seconds (with one thread, the time on an idle core,
// however busy the machine; wall time is printed beside): the plain loop's per row on R rows; the scan's per row
// from 2R and 8R rows (its cost per call, a session and for the baseline the class means, apart); the ratio is of
// the two per-row costs. The scans' predictions are checked equal to the plain loops' before any time is printed.
// The PROJECTED line gives the time for one row per class (the study's test splits): rows x per row (+ per call).
//
// Flags: --quick (fewer rows), --threads=N (onnxruntime threads; default 1).
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createRng, nearestClassMeanPredictions } from '@hyperproto/core';
import { drawCentres, drawSplit, nearestCentre, nearestCentreScan, nearestClassMeanScan } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const threadsFlag = process.argv.find((a) => a.startsWith('--threads='));
const threads = threadsFlag ? Number(threadsFlag.slice('--threads='.length)) : 1;
if (!Number.isInteger(threads) || threads < 1) {
  console.error(`--threads takes a positive whole number, got ${threadsFlag}`);
  process.exit(2);
}
const WIDTH = 300;
const SIGMA = 1.5;

/** Wall and CPU seconds of `work` (CPU: the whole process; with one onnxruntime thread, the time on an idle core). */
async function timed(work) {
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  };
  const wall0 = performance.now();
  const cpu0 = cpu();
  const result = await work();
  return { result, wall: (performance.now() - wall0) / 1000, cpu: cpu() - cpu0 };
}

const same = (a, b) => a.length === b.length && a.every((label, i) => label === b[i]);

const duration = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

console.log(
  `Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), onnxruntime threads ${threads}; ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (on a shared machine, times move with it)\n`,
);
let failed = false;
for (const classes of [10_000, 100_000]) {
  const rows = quick ? 32 : classes >= 100_000 ? 256 : 1024;
  // The scan is timed on more rows, S and 4 S, so that its cost per row stands out of its cost per call.
  const scanRows = quick ? 64 : 2 * rows;
  const rng = createRng(classes);
  const centres = drawCentres(rng.fork('centres'), classes, WIDTH);
  const train = drawSplit(rng.fork('train'), centres, SIGMA, 2);
  const probe = drawSplit(rng.fork('probe'), centres, SIGMA, Math.ceil((4 * scanRows) / classes));
  const first = (n) => ({ rows: n, cols: WIDTH, data: probe.features.data.subarray(0, n * WIDTH) });
  // Warm-up: onnxruntime's library and first session.
  await nearestCentreScan(first(4), centres, { threads });
  const rules = [
    ['Bayes-optimal (nearest centre)', (f) => nearestCentre(f, centres), (f) => nearestCentreScan(f, centres, { threads })],
    [
      'class-mean baseline',
      (f) => nearestClassMeanPredictions(train, f, classes),
      (f) => nearestClassMeanScan(train, f, classes, { threads }),
    ],
  ];
  console.log(
    `C = ${classes.toLocaleString('en-US')}, width ${WIDTH}: the plain loop on ${rows} rows, the scan on ${scanRows} and ${4 * scanRows}`,
  );
  for (const [name, plain, scan] of rules) {
    const byLoop = await timed(() => plain(first(rows)));
    const once = await timed(() => scan(first(scanRows)));
    const fourTimes = await timed(() => scan(first(4 * scanRows)));
    if (!same(byLoop.result, once.result.subarray(0, rows)) || !same(once.result, fourTimes.result.subarray(0, scanRows))) {
      console.log(`  ${name}: the scan's predictions differ from the plain loop's`);
      failed = true;
      continue;
    }
    // The scan's cost per row from the two sizes, and what each call costs besides (session, class means).
    const loopPerRow = byLoop.cpu / rows;
    const scanPerRow = Math.max(1e-9, (fourTimes.cpu - once.cpu) / (3 * scanRows));
    const scanFixed = Math.max(0, once.cpu - scanRows * scanPerRow);
    console.log(
      `  ${name.padEnd(31)} CPU per row: plain ${(loopPerRow * 1000).toFixed(2)} ms, scan ${(scanPerRow * 1000).toFixed(3)} ms ` +
        `(+ ${scanFixed.toFixed(2)} s per call): ${(loopPerRow / scanPerRow).toFixed(1)}x; wall: plain ${byLoop.wall.toFixed(2)} s for ${rows} rows, scan ${fourTimes.wall.toFixed(2)} s for ${4 * scanRows}`,
    );
    console.log(
      `  ${''.padEnd(31)} PROJECTED for ${classes.toLocaleString('en-US')} rows: plain ${duration(loopPerRow * classes)}, scan ${duration(scanFixed + scanPerRow * classes)}`,
    );
  }
  console.log('');
}
if (failed) process.exitCode = 1;
