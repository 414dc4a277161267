import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import { hostName, loopbackHosts, requestedHost } from '@hyperproto/allowed-hosts';
import { isHyperprotoError } from '@hyperproto/core';
import { InvalidFeaturesError, toFeatureMatrix, type ModelSession, type Prediction } from '@hyperproto/runtime-node';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BatcherStoppedError, MicroBatcher, QueueFullError, type BatcherStats } from './micro-batcher.js';

export interface PredictionServerOptions {
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  /** Most rows in one request. */
  readonly maxRequestRows: number;
  /** Most rows in one inference across concurrent requests. */
  readonly maxBatchRows: number;
  /** Longest wait to fill a batch, in milliseconds (0: what arrives in the same event-loop turn). */
  readonly maxDelayMs: number;
  /**
   * Host names served (no port; IPv6 in brackets): the Host header's (others get 403), or an absolute-form target's
   * (`GET http://name/path`; others get 421). Default: `loopbackHosts()`.
   */
  readonly allowedHosts?: readonly string[];
  /** Longest time without a byte in either direction before a connection is closed. */
  readonly idleTimeoutMs?: number;
  /** How long a connection stays open between keep-alive requests. */
  readonly keepAliveTimeoutMs?: number;
  /** Longest time to receive a request's headers (answered 408 after). */
  readonly headersTimeoutMs?: number;
  /** Longest time to receive a whole request, headers and body (answered 408 after). */
  readonly requestTimeoutMs?: number;
  /** Most open connections; more are closed as they arrive. */
  readonly maxConnections?: number;
  /** Requests on one keep-alive connection before the server closes it; 0: no limit. */
  readonly maxRequestsPerSocket?: number;
  /**
   * Most bytes of request bodies larger than SMALL_BODY_BYTES held at once, being received or waiting for their
   * answer (a body without Content-Length counts as `bodyLimit`); a request past it gets 503 `overloaded`.
   * Default: see `overloadLimits`.
   */
  readonly maxBufferedBytes?: number;
  /** Most rows waiting for an inference; a request past it gets 503 `overloaded`. Default: see `overloadLimits`. */
  readonly maxQueuedRows?: number;
  /** Where server-side failures (5xx) are reported. */
  readonly logError?: (message: string) => void;
}

/** The limits every server gets unless told otherwise (README "Export, predict and serve", SECURITY.md). */
export const DEFAULT_LIMITS = {
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 1024,
  // No cap: Node answers requests past a cap with 503 on the same connection, which busy keep-alive clients
  // (load balancers, autocannon) meet as errors; idle and keep-alive timeouts already bound a connection.
  maxRequestsPerSocket: 0,
  shutdownTimeoutMs: 10_000,
} as const;

export const DEFAULT_SERVER_OPTIONS: PredictionServerOptions = {
  bodyLimit: 8 * 1024 * 1024,
  maxRequestRows: 1024,
  maxBatchRows: 1024,
  maxDelayMs: 0,
};

/**
 * The total bounds on what requests hold at once, unless given: 8 bodies at the limit (64 MiB at the default
 * 8 MiB) and 8 full inferences of rows waiting. One request is always let through when nothing is held, so a lower
 * bound never locks a request at the limit out.
 */
export function overloadLimits(options: Pick<PredictionServerOptions, 'bodyLimit' | 'maxBatchRows'>): {
  maxBufferedBytes: number;
  maxQueuedRows: number;
} {
  return { maxBufferedBytes: 8 * options.bodyLimit, maxQueuedRows: 8 * options.maxBatchRows };
}

/**
 * During shutdown, a connection still sending its request is dropped after this long without a byte, and one that
 * has nothing left to answer but is still flushing an answer is closed after this long.
 */
const SHUTDOWN_STALL_MS = 1_000;

/**
 * Bodies up to this size are not counted against `maxBufferedBytes`: at most one per connection is held, so
 * `maxConnections` bounds them (64 MiB at the default 1,024), and a few large stalled bodies cannot lock small
 * requests out.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/** How long an overloaded server asks clients to wait before sending again (Retry-After, seconds). */
const RETRY_AFTER_S = 1;

export interface ShutdownResult {
  /** Every request in flight was answered (connections left after the grace period held none). */
  readonly drained: boolean;
  /** Requests still unanswered when the grace period ended (their connections were closed). */
  readonly abandoned: number;
}

export interface PredictionServer {
  readonly app: FastifyInstance;
  readonly batcher: MicroBatcher;
  readonly stats: () => BatcherStats;
  /**
   * Stops accepting connections, closes at once those without a request (idle, or still sending headers) and
   * those that stall while sending a body, lets the requests in flight finish, and after `graceMs` closes whatever
   * is left and refuses the requests still waiting for an inference (`MicroBatcher.stop`): the one running is left
   * to finish.
   */
  readonly shutdown: (graceMs?: number) => Promise<ShutdownResult>;
}

interface PredictBody {
  rows: number[][];
  topK?: number;
  scores?: boolean;
}

/** The one shape of every error response: a stable code for programs and a message for people. */
export interface ErrorBody {
  error: { code: string; message: string; row?: number; column?: number };
}

/** An error answer: its status, body and any headers it needs (Retry-After). */
export interface Refusal {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

function refuse(status: number, code: string, message: string, where: { row?: number; column?: number } = {}): Refusal {
  return { status, body: { error: { code, message, ...where } } };
}

/** A request that arrives, or is still waiting for an inference, once shutdown has begun. */
function shuttingDown(): Refusal {
  return refuse(503, 'shutting-down', 'the server is shutting down; send the request again to another instance');
}

/**
 * The answer to every request that fails inside the server (500): the client learns only that it failed. What
 * failed is the server's to know, and goes to `logError`: its messages name the server's own files (a session's
 * errors name the model's path).
 */
function internalFailure(): Refusal {
  return refuse(500, 'internal', 'the server failed to answer; it logged the error');
}

function overloaded(message: string): Refusal {
  return { ...refuse(503, 'overloaded', message), headers: { 'retry-after': String(RETRY_AFTER_S) } };
}

/** A request refused for a reason the server itself names (its own JSON parser). */
class RequestRefused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.body.error.message);
  }
}

/**
 * The HTTP face of a model session: `POST /v1/predict`, `GET /v1/metadata`, `GET /healthz`. Requests are checked
 * against a JSON schema (structure and types) and then row by row (width, finite values, ragged rows, empty
 * batch); every refusal is a JSON error naming the problem, and the server keeps serving. Rows of concurrent
 * requests share inferences through a MicroBatcher. Only the Host names in `allowedHosts` are answered, so a page
 * on another site cannot reach the server through DNS rebinding. What requests hold at once is bounded
 * (`maxBufferedBytes`, `maxQueuedRows`): past it they get 503 `overloaded` with Retry-After.
 */
export function createPredictionServer(session: ModelSession, options: PredictionServerOptions = DEFAULT_SERVER_OPTIONS): PredictionServer {
  const limits = { ...DEFAULT_LIMITS, ...overloadLimits(options), ...definedOnly(options) };
  const allowedHosts = new Set((options.allowedHosts ?? loopbackHosts()).map(hostName));
  const allowedList = [...allowedHosts].join(', ');
  // The host a request is for: an absolute-form target's (`GET http://name/path`, as sent to a proxy), whose Host
  // header is then ignored (RFC 9112 3.2.2), else its Host header's. This server is no proxy: a target naming
  // another host is misdirected, whatever its Host header says.
  const hostRefusal = (request: IncomingMessage): Refusal | undefined => {
    const { url: target, headers } = request;
    const requested = requestedHost(target, headers.host);
    // Without Host a request is refused: HTTP/1.1 requires one even with an absolute-form target (RFC 9112 3.2), and
    // Node's own answer (requireHostHeader) would be a bare 400. HTTP/1.0 may name its host in the target alone.
    if (headers.host === undefined && (request.httpVersion !== '1.0' || requested.source === 'header'))
      return refuse(
        403,
        'host-not-allowed',
        `the request has no Host header; send one naming a host this server answers for: ${allowedList} (add one with --allowed-host)`,
      );
    if (requested.name && allowedHosts.has(requested.name)) return undefined;
    if (requested.source === 'target')
      return refuse(
        421,
        'misdirected-request',
        `the request target ${JSON.stringify(target)} names the host ${JSON.stringify(requested.text)}, which this server does not answer for (it is not a proxy); allowed: ${allowedList}; send the request to that host itself, or send this server a path such as /v1/predict`,
      );
    return refuse(
      403,
      'host-not-allowed',
      `this server does not answer for the Host ${JSON.stringify(requested.text)}; allowed: ${allowedList} (add one with --allowed-host)`,
    );
  };
  let closing = false;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    // Types are checked, never coerced, and unknown fields are refused rather than dropped: a client's typo is
    // an error it sees.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Shutdown answers new requests itself (JSON, `shutting-down`).
    return503OnClosing: false,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    // Node checks the header and request timeouts on this interval (30 s by default): often enough to matter.
    http: {
      // Node refuses a header timeout longer than the request timeout.
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      // A request without Host reaches the Host check, which answers it with JSON (hostRefusal).
      requireHostHeader: false,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 2)),
    },
    clientErrorHandler: answerClientError,
    // What Fastify refuses before any hook runs (a path that is not valid percent-encoding) gets the Host check
    // and the JSON shape of every other answer.
    frameworkErrors: (error, request, reply) => {
      answer(reply, hostRefusal(request.raw) ?? describeRequestError(error, options), closing || !request.raw.complete);
    },
  });
  app.server.maxConnections = limits.maxConnections;
  // JSON only: a body in another type is refused with 415 instead of reaching the schema as a string. Parsed here
  // rather than by Fastify's parser so that a refusal says what was wrong with the body.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, parseJsonBody(text as string, options.maxRequestRows, session.inputWidth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // Node answers an Expect it does not meet (anything but 100-continue) with an empty 417 of its own.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const refusal =
      hostRefusal(request) ??
      refuse(
        417,
        'expectation-failed',
        `this server does not meet Expect: ${JSON.stringify(request.headers.expect ?? '')}; send the request without it (100-continue is the only one it meets)`,
      );
    const body = JSON.stringify(refusal.body);
    // The body, if any, is never read: the connection closes after the answer.
    response.writeHead(refusal.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  });
  // A CONNECT (a tunnel through a proxy) never reaches Fastify, and Node closes its connection without a word unless
  // this event is handled. Whatever the client sends after it is read and dropped until the connection closes.
  app.server.on('connect', (_request: IncomingMessage, socket: Socket) => {
    socket.on('error', () => {});
    socket.resume();
    socket.end(
      rawAnswer(
        405,
        'method-not-allowed',
        'this server does not open tunnels (CONNECT): it is not a proxy; send POST /v1/predict, GET /v1/metadata or GET /healthz to it directly',
        { Allow: 'GET, HEAD, POST' },
      ),
    );
    setTimeout(() => socket.destroy(), SHUTDOWN_STALL_MS).unref();
  });
  const batcher = new MicroBatcher(session, {
    maxBatchRows: options.maxBatchRows,
    maxDelayMs: options.maxDelayMs,
    maxQueuedRows: limits.maxQueuedRows,
  });
  const names = session.classNames;

  // Open connections; requests whose headers are in and whose answer is not yet sent; those among them received in
  // full (being answered); all per connection: what shutdown waits for.
  const sockets = new Set<Socket>();
  const unanswered = new Map<Socket, number>();
  const answering = new Map<Socket, number>();
  let inFlight = 0;
  // Bytes of large request bodies held (being received or waiting for their answer).
  let bufferedBytes = 0;
  // Per open connection, what its requests hold until they are answered (see `untilAnswered`).
  const heldByConnection = new Map<Socket, Set<() => void>>();
  app.server.on('connection', (socket: Socket) => {
    // Once shutdown began no new connection is served, not even to send it a refusal.
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    heldByConnection.set(socket, new Set());
    socket.once('close', () => {
      sockets.delete(socket);
      const held = heldByConnection.get(socket);
      heldByConnection.delete(socket);
      for (const release of [...(held ?? [])]) release();
    });
  });
  /**
   * Calls `release` once, when the request's answer has been sent or its connection has closed, whichever comes
   * first. A response's own 'close' is not enough: on a pipelined connection the answers queued behind one still
   * being sent never emit it when the connection dies (Node 20), and what they held would stay counted for good.
   */
  const untilAnswered = (request: IncomingMessage, response: ServerResponse, release: () => void): void => {
    const socket = request.socket;
    const held = heldByConnection.get(socket);
    if (!held) {
      // A connection that has closed already, or one this server never saw open (an injected request).
      if (socket?.destroyed === true) release();
      else response.once('close', release);
      return;
    }
    const once = (): void => {
      if (!held.delete(once)) return;
      response.removeListener('close', once);
      release();
    };
    held.add(once);
    response.once('close', once);
  };
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    count(unanswered, socket, +1);
    untilAnswered(request, response, () => count(unanswered, socket, -1));
    // Node emits this when the connection goes quiet (the idle timeout, or shutdown's stall timeout) while this
    // request's body is still arriving; with a listener it leaves the connection to it. A body that stops arriving is
    // answered 408, as the request timeout answers one that arrives too slowly: with equal timeouts (30 s each by
    // default) the idle one fires first and would otherwise drop the connection without a word.
    request.on('timeout', () => {
      const alone = (unanswered.get(socket) ?? 0) <= 1;
      if (closing || !alone || response.headersSent || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(rawAnswer(408, 'request-timeout', 'the request was not received in time'));
      setTimeout(() => socket.destroy(), SHUTDOWN_STALL_MS).unref();
    });
  });

  // preClose runs before the server stops listening: from then on every response closes its connection, so a
  // request that was in flight when shutdown began does not hold the process open for the keep-alive timeout.
  app.addHook('preClose', async () => {
    closing = true;
  });
  // An answer given before its request's body was read in full (a refusal, a 404, a GET with a body) closes the
  // connection: otherwise Node would read and throw away whatever the client sends, without limit, for as long
  // as the connection lives.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing || !request.raw.complete) void reply.header('connection', 'close');
    done(null, payload);
  });
  // Before the body is read: a request for another host, with two Hosts, in an encoding we do not decode, after
  // shutdown began, or whose body would take the bodies held past their bound is answered at once.
  const refusalOf = (request: FastifyRequest, heldBytes: number): Refusal | undefined => {
    const host = hostRefusal(request.raw);
    if (host) return host;
    const hosts = hostHeaderCount(request.raw.rawHeaders);
    if (hosts > 1) return refuse(400, 'malformed-request', `the request has ${hosts} Host headers; send exactly one`);
    if (!identityEncoding(request.headers['content-encoding']))
      return refuse(
        415,
        'unsupported-content-encoding',
        `Content-Encoding ${JSON.stringify(request.headers['content-encoding'])} is not supported; send the body unencoded (identity)`,
      );
    if (closing) return shuttingDown();
    // One request is always let through when no large body is held, however large (up to the body limit).
    if (heldBytes > 0 && bufferedBytes > 0 && bufferedBytes + heldBytes > limits.maxBufferedBytes) {
      const counted = request.headers['content-length'] === undefined ? ' (counted at the body limit: it has no Content-Length)' : '';
      return overloaded(
        `the server holds ${bufferedBytes} bytes of large request bodies; this one's ${heldBytes} bytes${counted} would pass its limit of ${limits.maxBufferedBytes}; send the request again in a moment, or a smaller one`,
      );
    }
    return undefined;
  };
  app.addHook('onRequest', (request, reply, done) => {
    const heldBytes = bodyBytesHeld(request.method, request.headers, options.bodyLimit);
    const refusal = refusalOf(request, heldBytes);
    if (refusal) {
      answer(reply, refusal, true);
      return;
    }
    inFlight++;
    bufferedBytes += heldBytes;
    untilAnswered(request.raw, reply.raw, () => {
      inFlight--;
      bufferedBytes -= heldBytes;
    });
    done();
  });
  // The body is in: from here the request is being answered, and shutdown waits for it.
  app.addHook('preValidation', (request, reply, done) => {
    const socket = request.raw.socket;
    count(answering, socket, +1);
    untilAnswered(request.raw, reply.raw, () => count(answering, socket, -1));
    if (closing) socket.setTimeout(0);
    done();
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const refusal = describeRequestError(error, options);
    if (refusal.body.error.code === 'internal')
      options.logError?.(`${request.method} ${request.url} failed: ${error.stack ?? error.message}`);
    answer(reply, refusal, false);
  });
  app.setNotFoundHandler((request, reply) => {
    const body: ErrorBody = {
      error: {
        code: 'not-found',
        message: `no route ${request.method} ${request.url}; use POST /v1/predict, GET /v1/metadata or GET /healthz`,
      },
    };
    void reply.code(404).send(body);
  });

  app.get('/healthz', async (_request, reply) => {
    if (closing) return reply.code(503).send({ status: 'shutting-down' });
    return { status: 'ok', provider: session.provider };
  });

  const metadata = {
    // The file's name, not where it lies on the server.
    source: basename(session.source),
    provider: session.provider,
    skipped: session.skipped,
    input: { name: session.inputName, width: session.inputWidth },
    classes: session.classes,
    scoresName: session.scoresName,
    classNames: names ?? null,
    featureNames: session.featureNames ?? null,
    modelTopK: session.modelTopK,
    metadata: session.metadata,
    onnx: {
      irVersion: session.info.irVersion,
      opset: session.info.opset,
      producer: session.info.producerName,
      producerVersion: session.info.producerVersion,
    },
    limits: {
      bodyLimit: options.bodyLimit,
      maxRequestRows: options.maxRequestRows,
      maxBatchRows: options.maxBatchRows,
      rowsPerRun: session.rowsPerRun,
      maxConnections: limits.maxConnections,
      idleTimeoutMs: limits.idleTimeoutMs,
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
      headersTimeoutMs: limits.headersTimeoutMs,
      requestTimeoutMs: limits.requestTimeoutMs,
      maxBufferedBytes: limits.maxBufferedBytes,
      maxQueuedRows: limits.maxQueuedRows,
    },
  };
  app.get('/v1/metadata', async () => metadata);

  // A score is null where the model's is not finite (see jsonScore).
  const score = { type: ['number', 'null'] };
  const predictionItem = {
    type: 'object',
    properties: {
      label: { type: 'integer' },
      score,
      ...(names ? { className: { type: 'string' } } : {}),
      topK: {
        type: 'array',
        items: {
          type: 'object',
          properties: { label: { type: 'integer' }, score, ...(names ? { className: { type: 'string' } } : {}) },
        },
      },
      scores: { type: 'array', items: score },
    },
  };
  app.post<{ Body: PredictBody }>(
    '/v1/predict',
    {
      schema: {
        body: {
          type: 'object',
          required: ['rows'],
          additionalProperties: false,
          properties: {
            rows: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
            topK: { type: 'integer', minimum: 1, maximum: session.classes },
            scores: { type: 'boolean' },
          },
        },
        response: { 200: { type: 'object', properties: { predictions: { type: 'array', items: predictionItem } } } },
      },
      // Too many rows is a size limit (413), checked before the schema looks at every value.
      preValidation: (request, reply, done) => {
        const rows = (request.body as { rows?: unknown } | null | undefined)?.rows;
        if (!Array.isArray(rows) || rows.length <= options.maxRequestRows) return done();
        answer(reply, tooManyRows(rows.length, options.maxRequestRows), false);
      },
    },
    async (request) => {
      const { rows, topK, scores = false } = request.body;
      const features = toFeatureMatrix(rows, session.inputWidth, { maxRows: options.maxRequestRows });
      const prediction = await batcher.submit({ features, scores, ...(topK === undefined ? {} : { topK }) });
      return { predictions: toPredictionItems(prediction, names) };
    },
  );

  const shutdown = async (graceMs: number = DEFAULT_LIMITS.shutdownTimeoutMs): Promise<ShutdownResult> => {
    // Set here as well as in preClose, which Fastify runs later: connections that arrive meanwhile are not served.
    closing = true;
    // Fastify's close stops listening and closes idle connections.
    const closed = app.close();
    for (const socket of sockets) {
      // Nothing to answer (no request, or headers still arriving): a trickling client must not hold the process.
      if (!unanswered.has(socket)) endConnection(socket);
      // Still sending its body: closed once it stalls. One being answered is left alone.
      else if (!answering.has(socket)) socket.setTimeout(Math.min(SHUTDOWN_STALL_MS, graceMs));
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const late = await Promise.race([closed.then(() => false), expired]);
    clearTimeout(timer);
    if (!late) return { drained: true, abandoned: 0 };
    const abandoned = inFlight;
    // Their clients are gone: only the inference running is waited for, not a batch more for each still queued.
    batcher.stop();
    app.server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await closed;
    // Connections left without a request in flight (an answer the client does not read) lose nothing.
    return { drained: abandoned === 0, abandoned };
  };

  return { app, batcher, stats: () => batcher.stats, shutdown };
}

/** Sends an error answer; `close` ends the connection after it (the request's body, if any, is not read on). */
function answer(reply: FastifyReply, refusal: Refusal, close: boolean): void {
  void reply
    .code(refusal.status)
    .headers({ ...refusal.headers, ...(close ? { connection: 'close' } : {}) })
    .type('application/json')
    .send(refusal.body);
}

function count(counts: Map<Socket, number>, socket: Socket, by: 1 | -1): void {
  const n = (counts.get(socket) ?? 0) + by;
  if (n > 0) counts.set(socket, n);
  else counts.delete(socket);
}

/** Closes a connection with nothing left to answer: at once, or once the answer it holds is flushed (bounded). */
function endConnection(socket: Socket): void {
  if (socket.writableLength === 0) {
    socket.destroy();
    return;
  }
  socket.end();
  setTimeout(() => socket.destroy(), SHUTDOWN_STALL_MS).unref();
}

/**
 * The bytes a request's body counts against `maxBufferedBytes` while it is read and answered: its Content-Length,
 * or the body limit when it has none (chunked); 0 for a small body (SMALL_BODY_BYTES), one that is never read
 * (GET, HEAD, TRACE) or one refused unread for its size.
 */
function bodyBytesHeld(method: string, headers: IncomingHttpHeaders, bodyLimit: number): number {
  if (method === 'GET' || method === 'HEAD' || method === 'TRACE') return 0;
  const length = headers['transfer-encoding'] === undefined ? Number(headers['content-length'] ?? 0) : bodyLimit;
  return Number.isFinite(length) && length > SMALL_BODY_BYTES && length <= bodyLimit ? length : 0;
}

/** Host headers in a request: Node keeps only the first, so a second one is seen only here. */
function hostHeaderCount(rawHeaders: readonly string[]): number {
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') hosts++;
  return hosts;
}

/**
 * A request body as JSON. An object key that could reach a prototype if the body were ever merged into another
 * object (`__proto__`, or `constructor` holding `prototype`) is refused, as Fastify's own parser does, but with a
 * message that says which.
 */
function parseJsonBody(text: string, maxRows: number, inputWidth: number): unknown {
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (json.trim() === '') throw new RequestRefused(refuse(400, 'invalid-json', 'the request body is not valid JSON (it is empty)'));
  // What would make JSON.parse costly is refused before it runs (see beyondBounds).
  const refusal = beyondBounds(json, maxRows, inputWidth);
  if (refusal) throw new RequestRefused(refusal);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new RequestRefused(refuse(400, 'invalid-json', `the request body is not valid JSON (${(error as Error).message})`));
  }
  // Only a text that spells such a key, or escapes characters, can hold one: most bodies skip the walk.
  const key = json.includes('proto') || json.includes('\\u') ? prototypeKey(value) : undefined;
  if (key) throw new RequestRefused(prototypeKeyRefusal(key));
  return value;
}

function prototypeKeyRefusal(key: string): Refusal {
  return refuse(
    400,
    'invalid-request',
    `the request body holds the key "${key}", which is not allowed; send only "rows", "topK" and "scores"`,
  );
}

/** `rows` undefined: more than `maxRows`, not counted further (see beyondBounds). */
function tooManyRows(rows: number | undefined, maxRows: number): Refusal {
  return refuse(
    413,
    'too-many-rows',
    `the request has ${rows ?? `more than ${maxRows}`} rows; at most ${maxRows} are accepted at once: split them into smaller requests`,
  );
}

/** A feature that is not a finite number, as the schema reports it (JSON's 1e999 parses to Infinity). */
function notANumber(row: number, column: number): Refusal {
  return refuse(400, 'not-a-number', `row ${row}, column ${column} is not a finite number; features must be finite numbers`, {
    row,
    column,
  });
}

/** The body does not match the request schema; `problem` in the words of its validator (Ajv). */
function schemaRefusal(problem: string): Refusal {
  return refuse(400, 'invalid-request', `the request body does not match the schema: ${problem}`);
}

/** The names of a prediction request's body, the only ones its schema allows. */
const BODY_NAMES = ['rows', 'topK', 'scores'] as const;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The refusal of a body whose text holds what makes JSON.parse costly and the request schema or the model refuses
 * anyway: a container (array or object) anywhere but the top-level object, the arrays it names and the arrays in those
 * (so nothing nested deeper than rows of values, no object below the top level); more than three names in the
 * top-level object, or `rows`, `topK` or `scores` given twice; more than `maxRows` values in one of its arrays (413
 * too-many-rows for `rows`); more than `inputWidth` values in one array of those arrays (a row). JSON.parse builds
 * every container, name and number before the schema sees any: an 8 MiB body of 4 million nested arrays, 2.8 million
 * empty rows or 700,000 names held the event loop for seconds and took hundreds of megabytes each; one row of 4
 * million numbers held it for half a second. One pass over the text, without allocating: strings are skipped whole, escapes
 * honoured, and the values of a row are counted by its commas. Such a body is refused for the first of these found,
 * with the status and code the parsed body would get (413 too-many-rows, else 400 invalid-request; a top-level
 * `__proto__` as the parsed body's check names it), before its other faults; a row wider than the model gets the
 * answer its rows alone would get (see RowsText), before the faults of the other names (a topK out of range) and of
 * numbers it does not parse (1e999). Text that is not JSON may pass, and JSON.parse then stops at its first error.
 */
export function beyondBounds(json: string, maxRows: number, inputWidth: number): Refusal | undefined {
  let depth = 0;
  let topLevelValues = 0;
  // In the top-level object: whether a name comes next, the name whose value is being read, how many names came,
  // and which of the schema's names came (a bit each).
  let expectName = false;
  let name = '';
  let names = 0;
  let known = 0;
  // Commas directly in the `rows` array: one fewer than its rows.
  let rowCommas = 0;
  // In a row: its commas so far (one fewer than its values), and whether it is empty. `nextComma` is the first comma
  // at or after where the last search began, so that no text is searched for commas twice.
  let valueCommas = 0;
  let emptyRow = false;
  let nextComma = -1;
  const rows = new RowsText(inputWidth);
  let i = 0;
  scan: for (;;) {
    // Inside a row only brackets, strings and literals matter: its numbers are skipped at the speed of a search.
    const next = depth === 3 ? INSIDE_ROW : STRUCTURE;
    next.lastIndex = i;
    const found = next.exec(json);
    const at = found ? found.index : json.length;
    if (depth === 3) {
      for (let from = i; ; from = nextComma + 1) {
        if (nextComma < from) {
          nextComma = json.indexOf(',', from);
          if (nextComma < 0) nextComma = json.length;
        }
        if (nextComma >= at) break;
        valueCommas++;
      }
      if (valueCommas >= inputWidth) {
        const refusal = name === 'rows' ? rows.tooWide() : arrayOutsideRows(inputWidth);
        if (refusal) return refusal;
      }
    }
    if (!found) break;
    i = at;
    switch (json.charCodeAt(i)) {
      case QUOTE: {
        if (depth === 3 && name === 'rows') {
          const refusal = rows.notANumber(rowCommas, valueCommas);
          if (refusal) return refusal;
        }
        const end = stringEnd(json, i);
        if (end < 0) break scan;
        if (depth === 1 && expectName) {
          expectName = false;
          name = nameAt(json, i, end);
          if (name === '__proto__') return prototypeKeyRefusal(name);
          if (++names > BODY_NAMES.length)
            return refuse(400, 'invalid-request', 'the request body has more names than "rows", "topK" and "scores"; send only those');
          const bit = 1 << BODY_NAMES.indexOf(name as (typeof BODY_NAMES)[number]);
          if (bit > 0 && known & bit)
            return refuse(
              400,
              'invalid-request',
              `the request body gives "${name}" more than once; send each of "rows", "topK" and "scores" at most once`,
            );
          if (bit > 0) known |= bit;
        }
        i = end;
        break;
      }
      case OPEN_BRACE:
        if (depth !== 0 || ++topLevelValues > 1) return nestedRefusal();
        depth = 1;
        expectName = true;
        break;
      case OPEN_BRACKET:
        // An array under any name may hold arrays (the schema names a wrong one); each is counted as rows are.
        if (depth === 1) rowCommas = 0;
        // A body that is an array: what the schema says of it, before its nesting costs anything.
        else if (depth === 0) return schemaRefusal('body must be object');
        else if (depth !== 2) return nestedRefusal();
        else {
          valueCommas = 0;
          emptyRow = json.charCodeAt(afterWhitespace(json, i + 1)) === CLOSE_BRACKET;
        }
        depth++;
        break;
      case CLOSE_BRACE:
      case CLOSE_BRACKET:
        if (depth === 3 && name === 'rows') rows.ended(rowCommas, emptyRow ? 0 : valueCommas + 1);
        depth--;
        break;
      default:
        // A comma; in a row, the first letter of null, true or false.
        if (depth === 1) expectName = true;
        // Counted no further than the limit: the text after it is not read.
        else if (depth === 2 && ++rowCommas >= maxRows)
          return name === 'rows' ? tooManyRows(undefined, maxRows) : arrayOutsideRows(maxRows);
        else if (depth === 3 && name === 'rows') {
          const refusal = rows.notANumber(rowCommas, valueCommas);
          if (refusal) return refusal;
        }
        break;
    }
    i++;
  }
  // The text ends inside a row (it is not JSON): what it holds counts as the row.
  if (depth === 3 && name === 'rows') rows.ended(rowCommas, emptyRow ? 0 : valueCommas + 1);
  return rows.refusal();
}

/**
 * What the text of `rows` shows that decides the parsed body's answer once a row holds more values than the model
 * takes: the first value the schema refuses (a string, null, true or false: the schema checks every value before
 * toFeatureMatrix compares widths), else the widths toFeatureMatrix compares (row 0's, and the first row's that
 * differs from it). Rows and columns are 0-based, as the JSON API reports them.
 */
class RowsText {
  private wide = false;
  private refusedRow = -1;
  private refusedColumn = 0;
  private firstWidth = -1;
  private raggedRow = -1;
  private raggedWidth = 0;

  constructor(private readonly inputWidth: number) {}

  /** A value that is not a number: refused at once when a row is already too wide (none came before it). */
  notANumber(row: number, column: number): Refusal | undefined {
    if (this.wide) return notANumber(row, column);
    if (this.refusedRow < 0) {
      this.refusedRow = row;
      this.refusedColumn = column;
    }
    return undefined;
  }

  /** A row holds more values than the model takes: refused at once for the first value the schema refuses, if one came. */
  tooWide(): Refusal | undefined {
    this.wide = true;
    return this.refusedRow < 0 ? undefined : notANumber(this.refusedRow, this.refusedColumn);
  }

  /** Row `row` ended, holding `width` values. */
  ended(row: number, width: number): void {
    if (row === 0) this.firstWidth = width;
    else if (this.raggedRow < 0 && this.firstWidth >= 0 && width !== this.firstWidth) {
      this.raggedRow = row;
      this.raggedWidth = width;
    }
  }

  /**
   * At the end of the text, when a row was too wide: toFeatureMatrix's answer (ragged-rows, else wrong-width) in its
   * words for the source `the batch` (@hyperproto/model-contract feature-batch.ts), or the schema's when row 0 is not
   * an array.
   */
  refusal(): Refusal | undefined {
    if (!this.wide) return undefined;
    const { firstWidth, raggedRow, inputWidth } = this;
    if (firstWidth < 0) return schemaRefusal('body/rows/0 must be array');
    if (raggedRow < 0) return refuse(400, 'wrong-width', `the batch has rows of ${firstWidth} features; the model expects ${inputWidth}`);
    return refuse(
      400,
      'ragged-rows',
      `the batch has ragged rows: row 0 has ${firstWidth} values but row ${raggedRow} has ${this.raggedWidth}; every row needs the model's ${inputWidth} features`,
      { row: raggedRow },
    );
  }
}

function arrayOutsideRows(limit: number): Refusal {
  return refuse(
    400,
    'invalid-request',
    `the request body holds an array of more than ${limit} values outside "rows"; send only "rows", "topK" and "scores"`,
  );
}

function nestedRefusal(): Refusal {
  return refuse(
    400,
    'invalid-request',
    'the request body nests arrays or objects where a request has none; send {"rows": [[feature, ...], ...], "topK": K, "scores": true}',
  );
}

/** The characters that shape a body's structure, and those that matter inside a row (n, t, f: null, true, false). */
const STRUCTURE = /["[\]{},]/g;
const INSIDE_ROW = /["[\]{}ntf]/g;

const JSON_WHITESPACE: readonly number[] = [0x20, 0x09, 0x0a, 0x0d];

/** The index of the first character at or after `start` that is not JSON whitespace. */
function afterWhitespace(text: string, start: number): number {
  let i = start;
  while (JSON_WHITESPACE.includes(text.charCodeAt(i))) i++;
  return i;
}

/** The index of the quote that ends the string whose opening quote is at `start`; -1 if it does not end. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    // A quote after an odd number of backslashes is escaped. Each backslash is counted for one quote at most.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** The names that matter to the checks before parsing: the schema's, and `__proto__`. */
const NOTED_NAMES: readonly string[] = [...BODY_NAMES, '__proto__'];
/** The longest of them, `__proto__`, with every character escaped (\uXXXX). */
const LONGEST_NOTED_NAME = 9 * 6;

/**
 * The name spelled by the string from `start` to `end` (its quotes) when it is one of NOTED_NAMES, else ''. Only a
 * short name with escapes is decoded; nothing is allocated for the others.
 */
function nameAt(text: string, start: number, end: number): string {
  const length = end - start - 1;
  if (length > LONGEST_NOTED_NAME) return '';
  let escaped = false;
  for (let i = start + 1; i < end && !escaped; i++) escaped = text.charCodeAt(i) === BACKSLASH;
  if (!escaped) return NOTED_NAMES.find((name) => name.length === length && text.startsWith(name, start + 1)) ?? '';
  try {
    const decoded = JSON.parse(text.slice(start, end + 1)) as string;
    return NOTED_NAMES.includes(decoded) ? decoded : '';
  } catch {
    return '';
  }
}

/** The first `__proto__` or `constructor.prototype` key in a parsed JSON value; a loop, as nesting may be deep. */
function prototypeKey(value: unknown): string | undefined {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (item === null || typeof item !== 'object') continue;
    if (Array.isArray(item)) {
      for (const element of item) if (element !== null && typeof element === 'object') pending.push(element);
      continue;
    }
    for (const [key, child] of Object.entries(item)) {
      if (key === '__proto__') return key;
      if (child === null || typeof child !== 'object') continue;
      if (key === 'constructor' && Object.hasOwn(child, 'prototype')) return 'constructor.prototype';
      pending.push(child);
    }
  }
  return undefined;
}

/** No Content-Encoding, or `identity`: the only bodies the server reads. */
function identityEncoding(header: string | undefined): boolean {
  return header === undefined || header.trim() === '' || header.trim().toLowerCase() === 'identity';
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * Requests Node's parser refuses before Fastify sees them (malformed, headers too large, too slow) get the same
 * JSON error shape as every other refusal, and their connection is closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request-timeout', 'the request was not received in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers-too-large', 'the request headers are too large']
        : [400, 'malformed-request', 'the request is not well-formed HTTP/1.1'];
  if (!socket.writable) {
    socket.destroy(error);
    return;
  }
  socket.end(rawAnswer(status, code, message));
}

/**
 * An error answer in the JSON shape of every other, written straight to a socket that Node's HTTP layer has let go
 * of (a malformed request, a CONNECT); the connection closes after it.
 */
function rawAnswer(status: number, code: string, message: string, headers: Record<string, string> = {}): string {
  const body = JSON.stringify({ error: { code, message } } satisfies ErrorBody);
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra.join('')}Connection: close\r\n\r\n${body}`;
}

/**
 * A score as JSON: null where the model's is not finite. JSON has no NaN or infinities, and a model gives them for
 * features far beyond its training data (±3e38 overflows a softmax): such a row is answered, with null scores.
 */
const jsonScore = (score: number): number | null => (Number.isFinite(score) ? score : null);

function toPredictionItems(p: Prediction, names: readonly string[] | undefined) {
  const items = new Array(p.rows);
  for (let r = 0; r < p.rows; r++) {
    const label = p.labels[r]!;
    const item: Record<string, unknown> = { label, score: jsonScore(p.labelScores[r]!) };
    if (names) item.className = names[label];
    if (p.topK) {
      const { k } = p.topK;
      const top = new Array(k);
      for (let i = 0; i < k; i++) {
        const topLabel = p.topK.labels[r * k + i]!;
        const topScore = jsonScore(p.topK.scores[r * k + i]!);
        top[i] = names ? { label: topLabel, score: topScore, className: names[topLabel] } : { label: topLabel, score: topScore };
      }
      item.topK = top;
    }
    if (p.scores) item.scores = Array.from(p.scores.subarray(r * p.classes, (r + 1) * p.classes), jsonScore);
    items[r] = item;
  }
  return items;
}

/** Maps what went wrong with a request to a status and a JSON body that names the problem. */
export function describeRequestError(error: FastifyError, options: PredictionServerOptions): Refusal {
  if (error instanceof RequestRefused) return error.refusal;
  if (error instanceof QueueFullError) return overloaded(error.message);
  if (error instanceof BatcherStoppedError) return shuttingDown();
  if (error instanceof InvalidFeaturesError) {
    const { problem, row, column } = error.detail;
    // Values beyond float32's range are reported like other non-finite features: one documented code.
    const code = problem === 'not-finite' ? 'not-a-number' : problem;
    return refuse(problem === 'too-many-rows' ? 413 : 400, code, error.message, {
      ...(row === undefined ? {} : { row }),
      ...(column === undefined ? {} : { column }),
    });
  }
  if (isHyperprotoError(error)) return error.code === 'E_INVALID_INPUT' ? refuse(400, 'invalid-input', error.message) : internalFailure();
  switch (error.code) {
    case 'FST_ERR_VALIDATION': {
      // A feature that is not a finite number (JSON's 1e999 parses to Infinity) gets its row and column.
      const cell = error.validation?.[0]?.instancePath.match(/^\/rows\/(\d+)\/(\d+)$/);
      if (cell) {
        const [row, column] = [Number(cell[1]), Number(cell[2])];
        return notANumber(row, column);
      }
      return schemaRefusal(error.message);
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return refuse(
        413,
        'body-too-large',
        `the request body is larger than the limit of ${options.bodyLimit} bytes; send fewer rows per request`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return refuse(415, 'unsupported-media-type', 'send the request body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return refuse(400, 'invalid-content-length', 'the Content-Length header does not match the body');
    case 'FST_ERR_BAD_URL':
      return refuse(400, 'bad-url', `the request path is not valid: ${error.message}; percent-encode it (%25 for a % sign)`);
    default:
      break;
  }
  const status = error.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? refuse(status, 'bad-request', error.message) : internalFailure();
}
