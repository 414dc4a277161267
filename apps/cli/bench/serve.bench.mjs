#!/usr/bin/env node
// `pnpm bench serve`: `hyperproto serve` under load from this process over loopback, against a baseline server
// (baseline-server.mjs: same framework, same request, a fixed answer without inference) measured in the same run.
// Model: the seed's network with a softmax head over C = 1,000 classes (random weights). Requests: one row each.
// At concurrency 1, 8, 32 and 128 it reports requests per second and p50/p99 latency of both servers, each level
// measured for both servers in alternating slices so that load on the machine affects them alike.
// Targets at concurrency 32: throughput >= 50% of the baseline's, p99 <= 5 x p50, no errors.
//
// Then a load check with autocannon against the model server alone: concurrency 32 and 128 for 60 s each,
// reporting requests, non-2xx answers, errors and timeouts, and the server's resident memory (RSS) before and
// after each level (growth). Everything runs on 127.0.0.1.
//
// Flags: --quick (1.5 s per level instead of 4, and 10 s per autocannon level instead of 60), --levels=1,8,32
// (choose the concurrency levels), --serve-args="--threads 1" (more flags for `hyperproto serve`),
// --no-load (skip the autocannon check).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createRng } from '@hyperproto/core';
import autocannon from 'autocannon';
import { exportOnnx } from '@hyperproto/onnx';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const levelsFlag = argv.find((a) => a.startsWith('--levels='))?.slice('--levels='.length);
/** Extra `hyperproto serve` flags, e.g. --serve-args="--threads 1 --max-delay-ms 1". */
const serveArgs = (argv.find((a) => a.startsWith('--serve-args='))?.slice('--serve-args='.length) ?? '').split(' ').filter(Boolean);
const LEVELS = levelsFlag ? levelsFlag.split(',').map(Number) : [1, 8, 32, 128];
const SECONDS = quick ? 1.5 : 4;
const WARMUP_SECONDS = 0.5;
const SLICES = quick ? 3 : 8;
const LOAD_SECONDS = quick ? 10 : 60;
const LOAD_LEVELS = [32, 128];
const load = !argv.includes('--no-load');
const CLASSES = 1000;
const WIDTH = 300;
const HIDDEN = 300;
const cliBin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const baselineScript = fileURLToPath(new URL('./baseline-server.mjs', import.meta.url));

function softmaxModel() {
  const rng = createRng(1);
  const weights = [];
  const add = (name, shape, fill) => weights.push({ name, shape, data: fill(new Float32Array(shape.reduce((a, b) => a * b, 1))) });
  let width = WIDTH;
  for (let i = 0; i < 2; i++) {
    add(`trunk/dense${i}/kernel`, [width, HIDDEN], (d) => rng.fillNormal(d, 0, 1 / Math.sqrt(width)));
    add(`trunk/bn${i}/gamma`, [HIDDEN], (d) => d.fill(1));
    add(`trunk/bn${i}/beta`, [HIDDEN], (d) => rng.fillNormal(d, 0, 0.1));
    add(`trunk/bn${i}/moving_mean`, [HIDDEN], (d) => rng.fillNormal(d, 0, 0.1));
    add(`trunk/bn${i}/moving_variance`, [HIDDEN], (d) => rng.fillUniform(d, 0.5, 2));
    width = HIDDEN;
  }
  add('head/dense/kernel', [HIDDEN, CLASSES], (d) => rng.fillNormal(d, 0, 1 / Math.sqrt(HIDDEN)));
  add('head/dense/bias', [CLASSES], (d) => d);
  const head = {
    outputUnits: CLASSES,
    loss: { op: 'output' },
    scores: { op: 'softmax', x: { op: 'output' } },
    scoresName: 'probabilities',
    constants: {},
  };
  return exportOnnx(
    { inputWidth: WIDTH, classes: CLASSES, head, weights, trainer: { hiddenUnits: HIDDEN, hiddenLayers: 2 } },
    { metadata: { head: 'softmax' } },
  );
}

/** Resident memory of a process in MiB (Linux /proc; `ps` elsewhere). */
function rssMiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {}
  const ps = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  const kb = Number(ps.stdout.trim());
  return Number.isFinite(kb) && kb > 0 ? kb / 1024 : Number.NaN;
}

/** autocannon against the model server for `seconds` at `connections`: throughput, failures and memory. */
async function loadCheck(server, body, connections, seconds) {
  const rssStart = rssMiB(server.child.pid);
  const result = await autocannon({
    url: new URL('/v1/predict', server.url).href,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
    timeout: 10,
  });
  // Let the server settle (sockets closed, garbage collected where it will) before the second reading.
  await new Promise((r) => setTimeout(r, 1000));
  const rssEnd = rssMiB(server.child.pid);
  return {
    connections,
    seconds,
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    rssStartMiB: rssStart,
    rssEndMiB: rssEnd,
  };
}

/** Starts a server process and resolves with its URL from the first JSON line it prints. */
function startServer(args, cwd) {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, url: new URL(JSON.parse(out.split('\n')[0]).url) });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
}

async function stopServer({ child }) {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/**
 * `concurrency` clients over keep-alive connections, each sending its next request when the previous answer has
 * arrived. `run(seconds)` measures a slice: answers (2xx with a body), errors, and every latency.
 */
function loadGenerator(url, body, concurrency) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const headers = { 'content-type': 'application/json', 'content-length': body.length };
  const once = () =>
    new Promise((resolve) => {
      const started = process.hrtime.bigint();
      const req = request({ host: url.hostname, port: url.port, path: '/v1/predict', method: 'POST', agent, headers }, (res) => {
        let size = 0;
        res.on('data', (chunk) => (size += chunk.length));
        res.on('end', () => resolve({ ok: res.statusCode === 200 && size > 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
        res.on('error', () => resolve({ ok: false, ms: 0 }));
      });
      req.on('error', () => resolve({ ok: false, ms: 0 }));
      req.end(body);
    });
  return {
    async run(seconds) {
      const latencies = [];
      let errors = 0;
      let stop = false;
      const client = async () => {
        while (!stop) {
          const { ok, ms } = await once();
          if (ok) latencies.push(ms);
          else errors++;
        }
      };
      const started = performance.now();
      const clients = Array.from({ length: concurrency }, client);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      stop = true;
      await Promise.all(clients);
      return { latencies, errors, seconds: (performance.now() - started) / 1000 };
    },
    close: () => agent.destroy(),
  };
}

/**
 * Both servers at one concurrency, in alternating slices (after a warm-up of each), so that changes in the
 * machine's load during the run affect both alike.
 */
async function measureLevel(urls, body, concurrency) {
  const generators = urls.map((url) => loadGenerator(url, body, concurrency));
  for (const g of generators) await g.run(WARMUP_SECONDS);
  const totals = generators.map(() => ({ latencies: [], errors: 0, seconds: 0 }));
  for (let slice = 0; slice < SLICES; slice++) {
    for (const [i, g] of generators.entries()) {
      const part = await g.run(SECONDS / SLICES);
      totals[i].latencies.push(...part.latencies);
      totals[i].errors += part.errors;
      totals[i].seconds += part.seconds;
    }
  }
  for (const g of generators) g.close();
  return totals.map(({ latencies, errors, seconds }) => {
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    return {
      concurrency,
      requestsPerSecond: latencies.length / seconds,
      p50: pct(0.5),
      p99: pct(0.99),
      errors,
      requests: latencies.length,
    };
  });
}

const dir = mkdtempSync(join(tmpdir(), 'hyperproto-serve-bench-'));
const modelPath = join(dir, 'model.onnx');
writeFileSync(modelPath, softmaxModel());
const rng = createRng(7);
const body = Buffer.from(JSON.stringify({ rows: [Array.from({ length: WIDTH }, () => Number(rng.normal().toFixed(6)))] }));

const servers = {};
let failed = 0;
try {
  servers.baseline = await startServer([baselineScript], dir);
  servers.model = await startServer([cliBin, 'serve', modelPath, '--port', '0', '--json', '--quiet', ...serveArgs], dir);
  // One answer checked before measuring: the model server really classifies.
  const check = await fetch(new URL('/v1/predict', servers.model.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const checked = await check.json();
  if (check.status !== 200 || typeof checked.predictions?.[0]?.label !== 'number')
    throw new Error(`the model server answered ${check.status}: ${JSON.stringify(checked)}`);

  console.log(`single-row requests (${body.length} bytes), softmax C=${CLASSES}, ${SECONDS} s per level, client and servers on loopback`);
  console.log('concurrency | baseline req/s  p50 ms  p99 ms err | model req/s  p50 ms  p99 ms err | model/baseline  p99/p50 (baseline)');
  const results = [];
  for (const concurrency of LEVELS) {
    const [baseline, model] = await measureLevel([servers.baseline.url, servers.model.url], body, concurrency);
    const row = {
      concurrency,
      baseline,
      model,
      throughputRatio: model.requestsPerSecond / baseline.requestsPerSecond,
      tail: model.p99 / model.p50,
    };
    results.push(row);
    const f = (x, d = 2) => x.toFixed(d).padStart(7);
    console.log(
      `${String(concurrency).padStart(11)} | ${f(baseline.requestsPerSecond, 0).padStart(14)} ${f(baseline.p50)} ${f(baseline.p99)} ${String(baseline.errors).padStart(3)} | ` +
        `${f(model.requestsPerSecond, 0).padStart(11)} ${f(model.p50)} ${f(model.p99)} ${String(model.errors).padStart(3)} | ${(100 * row.throughputRatio).toFixed(0).padStart(13)}% ${row.tail.toFixed(1).padStart(7)}x (${(baseline.p99 / baseline.p50).toFixed(1)}x)`,
    );
  }
  const at32 = results.find((r) => r.concurrency === 32);
  if (at32) {
    const throughputMet = at32.throughputRatio >= 0.5;
    const tailMet = at32.tail <= 5;
    const errorsMet = at32.model.errors === 0;
    if (!throughputMet || !tailMet || !errorsMet) failed++;
    console.log(
      `target at concurrency 32: throughput ${(100 * at32.throughputRatio).toFixed(0)}% of the baseline (>= 50%: ${throughputMet ? 'met' : 'NOT met'}), ` +
        `p99 ${at32.tail.toFixed(1)} x p50 (<= 5x: ${tailMet ? 'met' : 'NOT met'}), ${at32.model.errors} errors (0: ${errorsMet ? 'met' : 'NOT met'})`,
    );
  }
  const loadResults = [];
  if (load) {
    console.log(`\nload check: autocannon against the model server, ${LOAD_SECONDS} s per level, 127.0.0.1`);
    console.log('connections |  requests   req/s  p50 ms  p99 ms | non-2xx errors timeouts | RSS start MiB  end MiB  growth');
    for (const connections of LOAD_LEVELS) {
      const r = await loadCheck(servers.model, body, connections, LOAD_SECONDS);
      loadResults.push(r);
      console.log(
        `${String(connections).padStart(11)} | ${String(r.requests).padStart(9)} ${r.requestsPerSecond.toFixed(0).padStart(7)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(7)} | ` +
          `${String(r.non2xx).padStart(7)} ${String(r.errors).padStart(6)} ${String(r.timeouts).padStart(8)} | ${r.rssStartMiB.toFixed(1).padStart(13)} ${r.rssEndMiB.toFixed(1).padStart(8)} ${(r.rssEndMiB - r.rssStartMiB >= 0 ? '+' : '') + (r.rssEndMiB - r.rssStartMiB).toFixed(1)}`,
      );
      if (r.non2xx + r.errors + r.timeouts > 0) failed++;
    }
  }
  console.log(JSON.stringify({ benchmark: 'serve', classes: CLASSES, seconds: SECONDS, results, load: loadResults }));
} finally {
  const codes = await Promise.all(Object.values(servers).map(stopServer));
  if (servers.model && codes[1] !== 0) {
    console.log(`the model server exited with ${codes[1]} on SIGTERM`);
    failed++;
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
