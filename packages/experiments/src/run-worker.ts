// Entry point of a worker thread: builds its own registry from the registry module, then runs what it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import type { Registry } from '@hyperproto/core';
import { collectVersions, importRegistryModule, loadRegistry, type RunWriter } from './registry-module.js';
import { executeRun, failureOf, type RunOrder } from './run-execution.js';
import { DEFAULT_INPUT_STORE_BYTES, RunInputStore } from './run-input-store.js';
import type { RunProvenance } from './run-record.js';
import { type FromWorker, StopFlag, type ToWorker, type WorkerData } from './worker-messages.js';

const port = parentPort!;
const setup = workerData as WorkerData;
const stop = new StopFlag(setup.stop);
const post = (message: FromWorker) => port.postMessage(message);

let registry: Registry | undefined;
let provenance: RunProvenance | undefined;
let writeRun: RunWriter | undefined;
let current: AbortController | undefined;
// Runs of this worker that ask for the same dataset or prototype set take them from here.
const storeBytes = setup.inputStoreBytes ?? DEFAULT_INPUT_STORE_BYTES;
const inputs = storeBytes > 0 ? new RunInputStore(storeBytes) : undefined;

async function start(): Promise<void> {
  const module = await importRegistryModule(setup.registryModule);
  const built = await loadRegistry(module, setup.registryOptions);
  registry = built.registry;
  provenance = { versions: await collectVersions(module), git: setup.git, plugins: built.plugins };
  writeRun = module.writeRunDirectory;
  post({ type: 'ready' });
}

/** A step that reports progress or logs from a loop that never yields still hears the slot's stop here. */
function heedStop(): void {
  if (stop.raised) current?.abort();
}

async function run(order: RunOrder): Promise<void> {
  current = new AbortController();
  heedStop();
  let lastProgress = 0;
  try {
    const record = await executeRun(registry!, order, provenance!, {
      signal: current.signal,
      // Progress is for a display: a few messages a second are plenty.
      progress: (stage, done, total) => {
        heedStop();
        const now = performance.now();
        if (now - lastProgress < 250 && done < total) return;
        lastProgress = now;
        post({ type: 'progress', key: order.key, stage, done, total });
      },
      log: (message) => {
        heedStop();
        post({ type: 'log', key: order.key, message });
      },
      writeRun,
      threads: setup.threads,
      ...(inputs ? { inputs } : {}),
    });
    post({ type: 'done', key: order.key, record });
  } catch (error) {
    post({ type: 'failed', key: order.key, failure: failureOf(error) });
  } finally {
    current = undefined;
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'abort') current?.abort();
  else if (message.type === 'run') void run(message.order);
  // Ended from inside, between two steps: no native call of this thread is in flight here.
  else if (message.type === 'close') process.exit(0);
});

start().catch((error: unknown) => post({ type: 'fatal', failure: failureOf(error) }));
