import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSession } from '@hyperproto/runtime-node';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from './server.js';

/**
 * Drives Debian's Chromium (never a downloaded browser) against the page with models exported from really trained
 * networks, and checks the page's answers against onnxruntime-node's on both browser providers.
 */
const CHROMIUM = process.env.HYPERPROTO_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  // SwiftShader gives a software WebGPU adapter where there is no GPU.
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'dist', 'bin.js');
const ROWS = 48;
const WIDTH = 300;
const SCORE_TOLERANCE = 1e-3;

type Head = 'hpn' | 'softmax';
interface PageResult {
  provider: string | undefined;
  head: string | undefined;
  scoreName: string;
  labels: number[];
  scores: number[];
  topK: number;
  tableLabels: string[];
}

const run = promisify(execFile);
let workDir: string;
let server: WebServer;
let browser: Browser;
const models = {} as Record<Head, Uint8Array>;
const expected = {} as Record<Head, { labels: Int32Array; scores: Float32Array }>;
let rows: Float32Array;

/** Gaussian rows from a fixed seed; printed with String() each float32 parses back to itself. */
function seededRows(count: number, width: number, seed: number): Float32Array {
  let state = seed;
  const next = () => ((state = (state * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: count * width }, () => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()));
}

function csv(data: Float32Array, width: number): string {
  const lines: string[] = [];
  for (let r = 0; r * width < data.length; r++) lines.push(Array.from(data.subarray(r * width, (r + 1) * width), String).join(','));
  return lines.join('\n');
}

async function trainAndExport(head: Head): Promise<Uint8Array> {
  const runDir = join(workDir, `run-${head}`);
  const headArgs = head === 'hpn' ? ['--head', 'hpn', '--prototypes', 'random', '--dims', '4'] : ['--head', 'softmax'];
  await run(process.execPath, [
    CLI,
    'train',
    '--classes',
    '3',
    '--sigma',
    '0.5',
    '--train-per-class',
    '40',
    '--validation-per-class',
    '20',
    '--test-per-class',
    '20',
    '--hidden-units',
    '16',
    '--batch-size',
    '16',
    '--max-epochs',
    '6',
    ...headArgs,
    '--out',
    runDir,
  ]);
  const out = join(workDir, `${head}.onnx`);
  await run(process.execPath, [CLI, 'export', runDir, '--out', out]);
  return new Uint8Array(await readFile(out));
}

async function nodePrediction(bytes: Uint8Array): Promise<{ labels: Int32Array; scores: Float32Array }> {
  const session = await createSession(bytes, { providers: ['cpu'], source: 'test model' });
  try {
    const matrix = Array.from({ length: ROWS }, (_, r) => Array.from(rows.subarray(r * WIDTH, (r + 1) * WIDTH)));
    const prediction = await session.predict(matrix);
    return { labels: prediction.labels, scores: prediction.scores! };
  } finally {
    await session.release();
  }
}

async function openPage(query: string, logs: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (message) => logs.push(message.text()));
  page.on('pageerror', (error) => logs.push(`page error: ${error.message}`));
  await page.goto(`${server.url}?${query}`);
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 60_000 });
  const failure = await page.evaluate(() => (window as unknown as { hyperprotoPage: { loadError?: string } }).hyperprotoPage.loadError);
  expect(failure, 'the page could not load the model').toBeUndefined();
  return page;
}

/** Classifies `rows` on the page, pasted or uploaded, and reads back what the page computed and showed. */
async function classifyOnPage(page: Page, how: 'paste' | 'upload'): Promise<PageResult> {
  await page.evaluate(
    () => ((window as unknown as { hyperprotoPage: { lastPrediction?: unknown } }).hyperprotoPage.lastPrediction = undefined),
  );
  await page.fill('#topk', '3');
  const text = csv(rows, WIDTH);
  if (how === 'paste') {
    await page.fill('#rows', text);
    await page.click('#classify');
  } else {
    await page.setInputFiles('#rows-file', { name: 'rows.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });
  }
  await page.waitForFunction(
    () => (window as unknown as { hyperprotoPage: { lastPrediction?: unknown } }).hyperprotoPage.lastPrediction !== undefined,
    null,
    {
      timeout: 30_000,
    },
  );
  return page.evaluate(() => {
    const state = (
      window as unknown as {
        hyperprotoPage: {
          classifier: { provider: string; metadata: Record<string, string> };
          lastPrediction: { labels: Int32Array; scores: Float32Array; scoreName: string; topK?: unknown[][] };
        };
      }
    ).hyperprotoPage;
    const prediction = state.lastPrediction;
    return {
      provider: document.body.dataset.provider,
      head: state.classifier.metadata.head,
      scoreName: prediction.scoreName,
      labels: Array.from(prediction.labels),
      scores: Array.from(prediction.scores),
      topK: prediction.topK?.[0]?.length ?? 0,
      tableLabels: Array.from(document.querySelectorAll<HTMLElement>('#results tbody tr'), (row) => row.dataset.label ?? ''),
    };
  });
}

/** Switches the page to another model through its "Open another .onnx" button. */
async function openModelOnPage(page: Page, head: Head): Promise<void> {
  await page.setInputFiles('#model-file', {
    name: `${head}.onnx`,
    mimeType: 'application/octet-stream',
    buffer: Buffer.from(models[head]),
  });
  await page.waitForFunction(
    (want) => {
      const state = (window as unknown as { hyperprotoPage: { classifier?: { metadata: Record<string, string> } } }).hyperprotoPage;
      return document.body.dataset.state !== 'loading' && state.classifier?.metadata.head === want;
    },
    head,
    { timeout: 60_000 },
  );
}

function expectSameAnswers(head: Head, page: PageResult): void {
  const node = expected[head];
  expect(page.head).toBe(head);
  expect(page.scoreName).toBe(head === 'hpn' ? 'scores' : 'probabilities');
  expect(page.labels).toEqual(Array.from(node.labels));
  expect(page.tableLabels).toEqual(Array.from(node.labels, String));
  expect(page.scores).toHaveLength(node.scores.length);
  const worst = page.scores.reduce((max, value, i) => Math.max(max, Math.abs(value - node.scores[i]!)), 0);
  expect(worst, `largest score difference from onnxruntime-node (${head})`).toBeLessThanOrEqual(SCORE_TOLERANCE);
  expect(page.topK).toBe(3);
}

const NO_BROWSER = `Chromium is not installed at ${CHROMIUM}: install Debian's with \`apt-get install -y chromium\` (or point HYPERPROTO_CHROMIUM at a Chromium binary). Never \`npx playwright install\`.`;
// Without a browser the tests are skipped with that line on a developer's machine; under CI (CI=true) they fail,
// so CI can never pass without running them.
const skipWithoutBrowser = !existsSync(CHROMIUM) && process.env.CI !== 'true';
if (skipWithoutBrowser) console.warn(`skipping the browser tests: ${NO_BROWSER}`);

/** Set when there is no browser (under CI) or no CLI: every test then fails with it. */
let missing: Error | undefined;

beforeAll(async () => {
  if (skipWithoutBrowser) return;
  if (!existsSync(CHROMIUM)) {
    missing = new Error(NO_BROWSER);
    return;
  }
  if (!existsSync(CLI)) {
    missing = new Error(`the hyperproto CLI is not built (${CLI}): run \`pnpm build\` first`);
    return;
  }
  workDir = await mkdtemp(join(tmpdir(), 'hyperproto-web-'));
  const [hpn, softmax] = await Promise.all([trainAndExport('hpn'), trainAndExport('softmax')]);
  models.hpn = hpn;
  models.softmax = softmax;
  rows = seededRows(ROWS, WIDTH, 2024);
  expected.hpn = await nodePrediction(hpn);
  expected.softmax = await nodePrediction(softmax);
  // Every label would be the same with a degenerate model or input, which would prove little.
  expect(new Set(expected.hpn.labels).size).toBeGreaterThan(1);
  server = await startWebServer({ model: join(workDir, 'hpn.onnx'), port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Picks a provider in the page's selector, which reloads the model in place, and waits for the reload. */
async function chooseProvider(page: Page, choice: 'auto' | 'webgpu' | 'wasm'): Promise<void> {
  await page.evaluate(() => (document.body.dataset.state = 'loading'));
  await page.selectOption('#ep', choice);
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 60_000 });
}

describe.skipIf(skipWithoutBrowser)('the web page in Chromium', () => {
  it('runs both heads on WebGPU, all nodes on the WebGPU provider, with the answers of onnxruntime-node', async () => {
    if (missing) throw missing;
    const logs: string[] = [];
    const page = await openPage('ep=webgpu&log=verbose', logs);
    expect(await page.evaluate(() => document.body.dataset.provider)).toBe('webgpu');
    expect(await page.textContent('#provider')).toBe('WebGPU');
    expect(await page.locator('#fallback-reason').count()).toBe(0);
    expectSameAnswers('hpn', await classifyOnPage(page, 'paste'));
    await openModelOnPage(page, 'softmax');
    expectSameAnswers('softmax', await classifyOnPage(page, 'upload'));

    // onnxruntime's verbose log says where each session's nodes went: both models, every node on WebGPU.
    const placements = logs.filter((line) => /placed on \[/.test(line));
    expect(
      placements.filter((line) => line.includes('All nodes placed on [WebGpuExecutionProvider]')),
      placements.join('\n'),
    ).toHaveLength(2);
    expect(placements.filter((line) => !line.includes('[WebGpuExecutionProvider]'))).toEqual([]);
    expect(logs.filter((line) => line.startsWith('page error'))).toEqual([]);
    await page.close();
  });

  it('runs both heads on wasm (?ep=wasm) with the answers of onnxruntime-node, refuses bad rows, and falls back without WebGPU', async () => {
    if (missing) throw missing;
    const logs: string[] = [];
    const page = await openPage('ep=wasm', logs);
    expect(await page.evaluate(() => document.body.dataset.provider)).toBe('wasm');
    // Forced: WebGPU was not even tried.
    expect(
      await page.evaluate(
        () => (window as unknown as { hyperprotoPage: { classifier: { attempts: unknown[] } } }).hyperprotoPage.classifier.attempts,
      ),
    ).toEqual([{ provider: 'wasm' }]);
    expectSameAnswers('hpn', await classifyOnPage(page, 'upload'));
    await openModelOnPage(page, 'softmax');
    expectSameAnswers('softmax', await classifyOnPage(page, 'paste'));

    // Bad rows get a message naming the problem, and the page keeps working.
    await page.fill('#rows', '1,2,3\n4,5');
    await page.click('#classify');
    await expect.poll(() => page.textContent('#input-error')).toBe('ragged rows: line 2 has 2 values, line 1 has 3');
    await page.fill('#rows', '1,2,3');
    await page.click('#classify');
    await expect
      .poll(() => page.textContent('#input-error'))
      .toBe(
        `the batch has rows of 3 features; the model expects ${WIDTH} (Send features made the same way as the training data (the model metadata names its inputWidth).)`,
      );
    await page.fill('#rows', Array.from({ length: WIDTH }, (_, i) => (i === 4 ? 'NaN' : '0')).join(','));
    await page.click('#classify');
    await expect.poll(() => page.textContent('#input-error')).toBe('the batch: row 0, column 4 is NaN; features must be finite numbers');
    await page.fill('#rows', 'a,b\n# only a header');
    await page.click('#classify');
    await expect.poll(() => page.textContent('#input-error')).toMatch(/^no rows/);
    expectSameAnswers('softmax', await classifyOnPage(page, 'paste'));

    // A browser without WebGPU: "auto" passes over webgpu, says why, and answers the same on wasm.
    await page.evaluate(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await chooseProvider(page, 'auto');
    expect(page.url()).not.toContain('ep=');
    expect(await page.evaluate(() => document.body.dataset.provider)).toBe('wasm');
    expect(await page.textContent('#fallback-reason')).toMatch(
      /^Fell back to wasm\. webgpu: WebGPU is not available here \(no navigator\.gpu/,
    );
    expectSameAnswers('softmax', await classifyOnPage(page, 'paste'));
    expect(logs.filter((line) => line.startsWith('page error'))).toEqual([]);
    await page.close();
  });
});
