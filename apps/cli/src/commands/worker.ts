import { resolve } from 'node:path';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { parseQueueAddress, runQueueWorker, type WorkerEvent } from '@hyperproto/queue-bullmq';
import { interruptSignal } from '../interrupt.js';
import { Output } from '../output.js';
import type { RegistryModuleOptions } from '../registry-module.js';

export interface WorkerOptions {
  /** The queue's URL: --queue, or HYPERPROTO_QUEUE_URL without it (commander reads the variable). */
  queue?: string;
  /** Where `queue` came from, as refusals name it: --queue (the default) or HYPERPROTO_QUEUE_URL. */
  queueFrom?: string;
  concurrency?: number;
  threads?: number;
  lockSeconds?: number;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  plugin?: string[];
  /** A hyperproto.config file; false (--no-config) loads none. */
  config?: string | false;
}

/**
 * Takes jobs of `hyperproto experiment --queue` from the queue until stopped (Ctrl-C or SIGTERM: the runs in
 * progress go back to the queue for another worker, and the command exits 0).
 */
export async function workerCommand(options: WorkerOptions): Promise<void> {
  if (options.queue === undefined)
    throw new HyperprotoError(ErrorCode.InvalidOptions, 'no job queue: give --queue <redis-url> or set HYPERPROTO_QUEUE_URL', {
      hint: 'The URL of `experiment --queue`, e.g. redis://:PASSWORD@HOST:6379/0; with a password, set HYPERPROTO_QUEUE_URL: the arguments are what ps shows every user.',
    });
  // Refused naming where it came from: the option, or the variable.
  parseQueueAddress(options.queue, options.queueFrom);
  const output = new Output(options);
  // Every worker thread builds this registry again: --no-config must reach them too.
  if (options.config === false) process.env.HYPERPROTO_NO_CONFIG = '1';
  const registryOptions: RegistryModuleOptions = {
    cwd: process.cwd(),
    ...(typeof options.config === 'string' ? { config: resolve(options.config) } : {}),
    plugins: options.plugin ?? [],
  };
  const hintsShown = new Set<string>();
  const outcome = await runQueueWorker({
    url: options.queue,
    registryModule: new URL('../registry-module.js', import.meta.url).href,
    registryOptions,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(options.lockSeconds ? { lockSeconds: options.lockSeconds } : {}),
    signal: interruptSignal(),
    log: (message) => output.log(message),
    onEvent: (event) => {
      output.info(describe(event));
      // What to do about a failure (e.g. this machine's copy of a data file differs) is the same for each run it
      // stops: said once.
      const hint = event.type === 'failed' ? event.failure.hint : undefined;
      if (hint && !hintsShown.has(hint)) {
        hintsShown.add(hint);
        output.info(`hint: ${hint}`);
      }
    },
  });
  output.result(
    outcome,
    () =>
      `worker ${outcome.worker}: ${outcome.ran} run(s) done, ${outcome.failed} failed, ${outcome.returned} returned to the queue at ${outcome.queue}${outcome.notStored > 0 ? `, ${outcome.notStored} finished but not handed in (they run again)` : ''}`,
  );
}

function describe(event: WorkerEvent): string {
  switch (event.type) {
    case 'serving':
      return `taking jobs of grid "${event.grid}" (queue ${event.queue})`;
    case 'started':
      return `${event.key}: started${event.retry ? ` (${event.retry})` : ''}`;
    case 'finished':
      return `${event.key}: done in ${event.seconds.toFixed(1)}s`;
    case 'failed':
      return `${event.key}: failed: ${event.failure.message.split('\n')[0]}`;
    case 'returned':
      return `${event.key}: stopped, back in the queue`;
    case 'unstored':
      return `${event.key}: finished, but the queue did not take its record (this worker lost the job's lock while the queue did not answer or was full, or Redis lost the job), so it is not done: the run goes back to the queue and runs again`;
    case 'abandoned':
      return `${event.key}: stopped, back in the queue when its lock expires (in at most ${event.afterSeconds} s)`;
  }
}
