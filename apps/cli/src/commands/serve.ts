import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { createSession } from '@hyperproto/runtime-node';
import { sessionProviders, type ExecutionProviderFlags } from '../execution-provider-flags.js';
import { interruptSignal } from '../interrupt.js';
import type { GlobalOptions } from '../main.js';
import { Output } from '../output.js';
import { createPredictionServer } from '../prediction-server.js';

export interface ServeOptions extends GlobalOptions, ExecutionProviderFlags {
  port: number;
  host: string;
  maxBatch: number;
  maxDelayMs: number;
  maxRows: number;
  bodyLimit: number;
  threads?: number;
}

/**
 * Serves an exported model over HTTP until SIGTERM or Ctrl-C; then stops accepting connections, lets the requests
 * in flight finish, and exits 0.
 */
export async function serveCommand(model: string, options: ServeOptions): Promise<void> {
  const output = new Output(options);
  const session = await createSession(model, {
    ...sessionProviders(options),
    ...(options.threads === undefined ? {} : { intraOpThreads: options.threads }),
    log: (message) => process.stderr.write(`${message}\n`),
  });
  const server = createPredictionServer(session, {
    bodyLimit: options.bodyLimit,
    maxRequestRows: options.maxRows,
    maxBatchRows: options.maxBatch,
    maxDelayMs: options.maxDelayMs,
    logError: (message) => process.stderr.write(`${message}\n`),
  });
  let address: string;
  try {
    address = await server.app.listen({ port: options.port, host: options.host });
  } catch (error) {
    await session.release();
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    const hint =
      code === 'EADDRINUSE' || code === 'EACCES'
        ? 'Choose another --port (0 picks a free one).'
        : 'Check --host: an address of this machine, e.g. 127.0.0.1 or 0.0.0.0.';
    throw new HyperprotoError(ErrorCode.Io, `cannot listen on ${options.host}:${options.port}: ${reason}`, { cause: error, hint });
  }
  const port = (server.app.server.address() as { port: number }).port;
  const ready = {
    url: address,
    host: options.host,
    port,
    provider: session.provider,
    skipped: session.skipped,
    model: {
      source: session.source,
      head: session.metadata.head ?? null,
      classes: session.classes,
      inputWidth: session.inputWidth,
      scoresName: session.scoresName,
    },
    routes: ['POST /v1/predict', 'GET /v1/metadata', 'GET /healthz'],
  };
  output.result(ready, () =>
    [
      `serving ${session.source} (${session.metadata.head ?? 'model'}, ${session.classes} classes, ${session.inputWidth} features) on ${session.provider}`,
      `  ${address}  POST /v1/predict  GET /v1/metadata  GET /healthz`,
      '  stop with Ctrl-C or SIGTERM (requests in flight finish first)',
    ].join('\n'),
  );

  const signal = interruptSignal();
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.app.close();
  await session.release();
  const stats = server.stats();
  output.info(`stopped after ${stats.requests} prediction requests in ${stats.batches} batches (largest ${stats.largestBatchRows} rows)`);
}
