// `pnpm bench geometry`: the time of the prototype geometry every experiment record carries (nearest-neighbour
// cosines and the singular values, pure JavaScript in float64, one core) at the sizes the studies use, beside the
// default work limit, as multiply-adds per CPU second measured in the same run (wall seconds stretch on a loaded
// machine, CPU seconds much less).
//
//   node bench/geometry.bench.mjs [--quick] [--sizes=1000x1000,2000x2000,...]
//
// --quick: 1,000 x 100 and 1,000 x 1,000 only. Unit rows from seeded Gaussian draws; each size is timed once after
// one warm-up on a small matrix.
import { loadavg } from 'node:os';
import { createMatrix, createRng, GEOMETRY_WORK_LIMIT, nearestScanWork, prototypeGeometry, spectrumWork } from '@hyperproto/core';

const args = process.argv.slice(2);
const sizesArg = args.find((a) => a.startsWith('--sizes='));
const SIZES = sizesArg
  ? sizesArg
      .slice('--sizes='.length)
      .split(',')
      .map((s) => s.split('x').map(Number))
  : args.includes('--quick')
    ? [
        [1000, 100],
        [1000, 1000],
      ]
    : [
        [1000, 100],
        [1000, 1000],
        [2000, 2000],
        [10000, 100],
        [10000, 1000],
        [100000, 100],
      ];

function unitRows(classes, dims, seed) {
  const rng = createRng(seed);
  const m = createMatrix(classes, dims);
  for (let i = 0; i < classes; i++) {
    let norm = 0;
    for (let k = 0; k < dims; k++) {
      const x = rng.normal();
      m.data[i * dims + k] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm);
    for (let k = 0; k < dims; k++) m.data[i * dims + k] /= norm;
  }
  return m;
}

prototypeGeometry(unitRows(64, 64, 0));
console.log(`load average ${loadavg()[0].toFixed(2)}; work limit ${GEOMETRY_WORK_LIMIT.toExponential(1)} multiply-adds per part\n`);
console.log('| C x D | spectrum madds | scan madds | seconds | cpu s | madds / cpu s | effective rank | notes |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [classes, dims] of SIZES) {
  const m = unitRows(classes, dims, 1);
  const spectrum = spectrumWork(classes, dims);
  // When C <= D the Gram matrix gives the cosines: no separate scan.
  const scan = classes <= dims ? 0 : nearestScanWork(classes, dims);
  const done = [spectrum, scan].filter((w) => w <= GEOMETRY_WORK_LIMIT).reduce((a, b) => a + b, 0);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const g = prototypeGeometry(m);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(
    `| ${classes} x ${dims} | ${spectrum.toExponential(1)} | ${scan.toExponential(1)} | ${seconds.toFixed(2)} | ${cpuSeconds.toFixed(2)} | ${(done / cpuSeconds).toExponential(2)} | ${g.effectiveRank?.toFixed(1) ?? 'skipped'} | ${g.notes.join('; ')} |`,
  );
}
