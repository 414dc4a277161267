import { allowedHostNames } from '@hyperproto/allowed-hosts';
import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import { createWorkerSession } from '@hyperproto/runtime-node';
import { describeError } from '../exit-codes.js';
import { sessionProviders, type ExecutionProviderFlags } from '../execution-provider-flags.js';
import { interruptSignal } from '../interrupt.js';
import type { GlobalOptions } from '../main.js';
import { Output, terminalText } from '../output.js';
import { createPredictionServer } from '../prediction-server.js';

export interface ServeOptions extends GlobalOptions, ExecutionProviderFlags {
  port: number;
  host: string;
  maxBatch: number;
  maxDelayMs: number;
  maxRows: number;
  bodyLimit: number;
  /** Default: 8 x bodyLimit (`overloadLimits`). */
  maxBufferedBytes?: number;
  /** Default: 8 x maxBatch (`overloadLimits`). */
  maxQueuedRows?: number;
  threads?: number;
  /** More Host header names to answer for (repeatable). */
  allowedHost?: string[];
  maxConnections: number;
  /** Seconds. */
  shutdownTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  idleTimeout: number;
}

/**
 * Serves an exported model over HTTP until SIGTERM or Ctrl-C; then stops accepting connections, closes those
 * without a request and stalled ones, lets the requests in flight finish, and exits 0; if they have not finished
 * within --shutdown-timeout seconds, closes them and exits 130. Should the thread running the model end (out of
 * memory, a crash inside onnxruntime), it stops the same way, failing the requests that needed the model, and
 * exits 1 (E_INTERNAL) saying why: a process manager then starts it again, as it would a process that crashed.
 */
export async function serveCommand(model: string, options: ServeOptions): Promise<void> {
  const output = new Output(options);
  // The session runs the model on a few fixed rows and refuses one whose answers break its interface (a label that
  // is not the best-scoring class): nothing that fails the model contract is served. It lives on a worker thread:
  // onnxruntime-node's run holds the thread it is called on until it is done, and this one must go on reading
  // requests and answering /healthz while a batch runs. Should that thread end, serve stops and exits 1 rather than
  // answer 500 to every prediction while /healthz says ok: a process manager restarts it, as it would after a crash.
  let threadEnded: Error | undefined;
  const stop = new AbortController();
  const session = await createWorkerSession(model, {
    ...sessionProviders(options),
    ...(options.threads === undefined ? {} : { intraOpThreads: options.threads }),
    log: (message) => process.stderr.write(`${terminalText(message)}\n`),
    onUnexpectedEnd: (error) => {
      threadEnded = error;
      process.stderr.write(`${terminalText(`${error.message}: stopping`)}\n`);
      stop.abort();
    },
  });
  const seconds = (s: number) => Math.round(s * 1000);
  const server = createPredictionServer(session, {
    bodyLimit: options.bodyLimit,
    maxRequestRows: options.maxRows,
    maxBatchRows: options.maxBatch,
    maxDelayMs: options.maxDelayMs,
    ...(options.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: options.maxBufferedBytes }),
    ...(options.maxQueuedRows === undefined ? {} : { maxQueuedRows: options.maxQueuedRows }),
    allowedHosts: [...allowedHostNames(options.host, options.allowedHost)],
    maxConnections: options.maxConnections,
    headersTimeoutMs: seconds(options.headersTimeout),
    requestTimeoutMs: seconds(options.requestTimeout),
    keepAliveTimeoutMs: seconds(options.keepAliveTimeout),
    idleTimeoutMs: seconds(options.idleTimeout),
    logError: (message) => process.stderr.write(`${terminalText(message)}\n`),
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
      `  stop with Ctrl-C or SIGTERM (requests in flight get ${options.shutdownTimeout} s to finish)`,
    ].join('\n'),
  );

  const signal = AbortSignal.any([interruptSignal(), stop.signal]);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  // From here /healthz answers 503 and new requests are refused; those that need the model fail once its thread ended.
  const { drained, abandoned } = await server.shutdown(seconds(options.shutdownTimeout));
  const unanswered = `${abandoned} request${abandoned === 1 ? '' : 's'} unanswered`;
  // With --json stdout holds one object, the start-up line a script has read: a stop that is an error goes to
  // stderr as it does without --json (main() writes no error after a result), and the exit code says it.
  const stopWith = (error: HyperprotoError): never => {
    if (options.json) process.stderr.write(`${terminalText(describeError(error))}\n`);
    throw error;
  };
  if (threadEnded) {
    const error = new HyperprotoError(ErrorCode.Internal, `stopped${drained ? '' : ` with ${unanswered}`}: ${threadEnded.message}`, {
      cause: threadEnded,
      hint: 'Start it again (a process manager restarts it on this exit code); if the thread keeps ending, report it with this output.',
    });
    stopWith(error);
  }
  if (!drained) {
    // The session is left to the process's exit: an inference may still be running on its thread, which the
    // process waits for (a thread ended inside a native call would abort the process) before it exits.
    const error = new HyperprotoError(
      ErrorCode.Aborted,
      `stopped with ${unanswered}: the requests in flight did not finish within the shutdown timeout of ${options.shutdownTimeout} s`,
      { hint: 'Give them longer with --shutdown-timeout SECONDS.' },
    );
    stopWith(error);
  }
  await session.release();
  const stats = server.stats();
  output.info(`stopped after ${stats.requests} prediction requests in ${stats.batches} batches (largest ${stats.largestBatchRows} rows)`);
}
