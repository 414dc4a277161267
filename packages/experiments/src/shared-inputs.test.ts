import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGrid } from './grid-runner.js';
import { parseGrid } from './grid-schema.js';
import { parseResults, RESULTS_FILE } from './results-store.js';
import type { RunRecord } from './run-record.js';
import { made } from './test-support/shared-input-registry.js';

const registryModule = fileURLToPath(new URL('./test-support/shared-input-registry.ts', import.meta.url));

/** Two datasets, two seeds; two models over the same prototype set (they differ in their trainer settings only). */
const grid = (engine: string) =>
  parseGrid({
    name: 'shared',
    seeds: 2,
    engine,
    datasets: [
      { id: 'c6', name: 'clusters', options: { classes: 6 } },
      { id: 'c5', name: 'clusters', options: { classes: 5, perClass: 4 } },
    ],
    models: [
      { id: 'softmax', head: 'softmax' },
      { id: 'dir-4', head: 'hpn', prototypes: { strategy: 'directions', dims: 4 } },
      { id: 'dir-4-wide', head: 'hpn', prototypes: { strategy: 'directions', dims: 4 }, trainer: { hiddenUnits: 64 } },
    ],
  });

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hyperproto-shared-'));
  for (const name of Object.keys(made)) delete made[name];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A session's records by key, and the SHA-256 of each run's trained weights. */
async function session(name: string, engine: string, options: { inputStoreBytes?: number; workers?: number }) {
  const out = join(root, name);
  const outcome = await runGrid({ grid: grid(engine), out, registryModule, inline: true, saveModels: 'all', ...options });
  const records = new Map(parseResults(readFileSync(join(out, RESULTS_FILE)), 'results').records.map((r) => [r.key, r]));
  const weights = new Map(
    [...records.keys()].map((key) => {
      const [dataset, model, seed] = key.split('/');
      const dir = join(out, 'models', dataset!, model!, seed!);
      return [key, readdirSync(dir).includes('weights.sha256') ? readFileSync(join(dir, 'weights.sha256'), 'utf8') : 'none'];
    }),
  );
  return { outcome, records, weights };
}

/** A record without what may differ between two sessions that computed the same: times, and what was reused. */
function results(record: RunRecord) {
  const { seconds: _seconds, finishedAt: _finishedAt, reused: _reused, secondsPerEpoch: _perEpoch, history, ...rest } = record;
  return { ...rest, history: history.map(({ seconds: _s, ...epoch }) => epoch) };
}

describe("a worker's input store", () => {
  it('gives the same records and weights as making every input anew, and makes each dataset and prototype set once', async () => {
    const without = await session('without', 'class-means', { inputStoreBytes: 0, workers: 1 });
    const madeWithout = { ...made };
    for (const name of Object.keys(made)) delete made[name];
    const withStore = await session('with', 'class-means', { workers: 1 });

    expect(withStore.records.size).toBe(12);
    expect([...withStore.records.keys()].sort()).toEqual([...without.records.keys()].sort());
    for (const [key, record] of without.records) {
      expect(results(withStore.records.get(key)!), key).toEqual(results(record));
      expect(withStore.weights.get(key), key).toBe(without.weights.get(key));
      expect(without.weights.get(key)).toMatch(/^[0-9a-f]{64}$/);
    }
    // Without the store every run makes its own (12 datasets, 8 prototype sets); with it, each distinct one once:
    // 2 datasets x 2 seeds, and per dataset and seed one prototype set shared by dir-4 and dir-4-wide.
    expect(madeWithout).toEqual({ clusters: 12, directions: 8 });
    expect(made).toEqual({ clusters: 4, directions: 4 });
    expect([...without.records.values()].every((r) => r.reused === undefined)).toBe(true);
    const reuses = [...withStore.records.values()].flatMap((r) => r.reused ?? []);
    expect(reuses.filter((r) => r === 'dataset')).toHaveLength(8);
    expect(reuses.filter((r) => r === 'baseline')).toHaveLength(8);
    expect(reuses.filter((r) => r === 'prototypes')).toHaveLength(4);
    expect(reuses.filter((r) => r === 'geometry')).toHaveLength(4);
    expect(withStore.outcome.phases.reused).toEqual({ dataset: 8, baseline: 8, prototypes: 4, geometry: 4 });
    expect(without.outcome.phases.reused).toEqual({});
    // Seeds and datasets differ (dir-4 and dir-4-wide train alike here): a key that left out the seed or the options
    // would have passed one run's inputs off as another's.
    expect(new Set(without.weights.values()).size).toBe(8);
  });

  it('hands every run its own copy: an engine that overwrites its dataset and prototypes changes no later run', async () => {
    const without = await session('without', 'class-means-scribbling', { inputStoreBytes: 0, workers: 2 });
    const withStore = await session('with', 'class-means-scribbling', { workers: 2 });
    for (const [key, record] of without.records) {
      expect(results(withStore.records.get(key)!), key).toEqual(results(record));
      expect(withStore.weights.get(key), key).toBe(without.weights.get(key));
    }
    expect(withStore.records.size).toBe(12);
    expect(withStore.outcome.phases.reused.dataset).toBeGreaterThan(0);
    expect(withStore.outcome.phases.reused.prototypes).toBeGreaterThan(0);
  });

  it('refuses a negative store size before anything runs', async () => {
    await expect(session('negative', 'class-means', { inputStoreBytes: -1 })).rejects.toMatchObject({
      code: 'E_INVALID_OPTIONS',
      message: expect.stringMatching(/inputStoreBytes must be a whole number of bytes >= 0, got -1/),
    });
  });
});
