import { isHyperprotoError } from '@hyperproto/core';
import { InvalidFeaturesError, toFeatureMatrix, type ModelSession, type Prediction } from '@hyperproto/runtime-node';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { MicroBatcher, type BatcherStats } from './micro-batcher.js';

export interface PredictionServerOptions {
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  /** Most rows in one request. */
  readonly maxRequestRows: number;
  /** Most rows in one inference across concurrent requests. */
  readonly maxBatchRows: number;
  /** Longest wait to fill a batch, in milliseconds (0: what arrives in the same event-loop turn). */
  readonly maxDelayMs: number;
  /** Where server-side failures (5xx) are reported. */
  readonly logError?: (message: string) => void;
}

export const DEFAULT_SERVER_OPTIONS: PredictionServerOptions = {
  bodyLimit: 4 * 1024 * 1024,
  maxRequestRows: 1024,
  maxBatchRows: 1024,
  maxDelayMs: 0,
};

export interface PredictionServer {
  readonly app: FastifyInstance;
  readonly batcher: MicroBatcher;
  readonly stats: () => BatcherStats;
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

/**
 * The HTTP face of a model session: `POST /v1/predict`, `GET /v1/metadata`, `GET /healthz`. Requests are checked
 * against a JSON schema (structure and types) and then row by row (width, finite values, ragged rows, empty
 * batch); every refusal is a 4xx JSON error naming the problem, and the server keeps serving. Rows of
 * concurrent requests share inferences through a MicroBatcher.
 */
export function createPredictionServer(session: ModelSession, options: PredictionServerOptions = DEFAULT_SERVER_OPTIONS): PredictionServer {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    // Types are checked, never coerced, and unknown fields are refused rather than dropped: a client's typo is
    // an error it sees.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
  });
  // JSON only: a body in another type is refused with 415 instead of reaching the schema as a string.
  app.removeContentTypeParser('text/plain');
  const batcher = new MicroBatcher(session, { maxBatchRows: options.maxBatchRows, maxDelayMs: options.maxDelayMs });
  const names = session.classNames;
  let closing = false;
  // preClose runs before the server stops listening: from then on every response closes its connection, so a
  // request that was in flight when shutdown began does not hold the process open for the keep-alive timeout.
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { status, body } = describeRequestError(error, options);
    if (status >= 500) options.logError?.(`${request.method} ${request.url} failed: ${error.stack ?? error.message}`);
    void reply.code(status).type('application/json').send(body);
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
    source: session.source,
    provider: session.provider,
    skipped: session.skipped,
    input: { name: session.inputName, width: session.inputWidth },
    classes: session.classes,
    scoresName: session.scoresName,
    classNames: names ?? null,
    modelTopK: session.modelTopK,
    metadata: session.metadata,
    onnx: {
      irVersion: session.info.irVersion,
      opset: session.info.opset,
      producer: session.info.producerName,
      producerVersion: session.info.producerVersion,
    },
    limits: { bodyLimit: options.bodyLimit, maxRequestRows: options.maxRequestRows, maxBatchRows: options.maxBatchRows },
  };
  app.get('/v1/metadata', async () => metadata);

  const predictionItem = {
    type: 'object',
    properties: {
      label: { type: 'integer' },
      score: { type: 'number' },
      ...(names ? { className: { type: 'string' } } : {}),
      topK: {
        type: 'array',
        items: {
          type: 'object',
          properties: { label: { type: 'integer' }, score: { type: 'number' }, ...(names ? { className: { type: 'string' } } : {}) },
        },
      },
      scores: { type: 'array', items: { type: 'number' } },
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
            rows: { type: 'array', maxItems: options.maxRequestRows, items: { type: 'array', items: { type: 'number' } } },
            topK: { type: 'integer', minimum: 1, maximum: session.classes },
            scores: { type: 'boolean' },
          },
        },
        response: { 200: { type: 'object', properties: { predictions: { type: 'array', items: predictionItem } } } },
      },
    },
    async (request) => {
      const { rows, topK, scores = false } = request.body;
      const features = toFeatureMatrix(rows, session.inputWidth, { maxRows: options.maxRequestRows });
      const prediction = await batcher.submit({ features, scores, ...(topK === undefined ? {} : { topK }) });
      return { predictions: toPredictionItems(prediction, names) };
    },
  );

  return { app, batcher, stats: () => batcher.stats };
}

function toPredictionItems(p: Prediction, names: readonly string[] | undefined) {
  const items = new Array(p.rows);
  for (let r = 0; r < p.rows; r++) {
    const label = p.labels[r]!;
    const item: Record<string, unknown> = { label, score: p.labelScores[r]! };
    if (names) item.className = names[label];
    if (p.topK) {
      const { k } = p.topK;
      const top = new Array(k);
      for (let i = 0; i < k; i++) {
        const topLabel = p.topK.labels[r * k + i]!;
        top[i] = names
          ? { label: topLabel, score: p.topK.scores[r * k + i]!, className: names[topLabel] }
          : { label: topLabel, score: p.topK.scores[r * k + i]! };
      }
      item.topK = top;
    }
    if (p.scores) item.scores = Array.from(p.scores.subarray(r * p.classes, (r + 1) * p.classes));
    items[r] = item;
  }
  return items;
}

/** Maps what went wrong with a request to a status and a JSON body that names the problem. */
export function describeRequestError(error: FastifyError, options: PredictionServerOptions): { status: number; body: ErrorBody } {
  const reply = (status: number, code: string, message: string, where: { row?: number; column?: number } = {}) => ({
    status,
    body: { error: { code, message, ...where } },
  });
  if (error instanceof InvalidFeaturesError) {
    const { problem, row, column } = error.detail;
    return reply(problem === 'too-many-rows' ? 413 : 400, problem, error.message, {
      ...(row === undefined ? {} : { row }),
      ...(column === undefined ? {} : { column }),
    });
  }
  if (isHyperprotoError(error))
    return reply(
      error.code === 'E_INVALID_INPUT' ? 400 : 500,
      error.code === 'E_INVALID_INPUT' ? 'invalid-input' : 'internal',
      error.message,
    );
  switch (error.code) {
    case 'FST_ERR_VALIDATION': {
      // A feature that is not a finite number (JSON's 1e999 parses to Infinity) gets its row and column.
      const cell = error.validation?.[0]?.instancePath.match(/^\/rows\/(\d+)\/(\d+)$/);
      if (cell) {
        const [row, column] = [Number(cell[1]), Number(cell[2])];
        return reply(400, 'not-a-number', `row ${row}, column ${column} is not a finite number; features must be finite numbers`, {
          row,
          column,
        });
      }
      return reply(400, 'invalid-request', `the request body does not match the schema: ${error.message}`);
    }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply(
        413,
        'body-too-large',
        `the request body is larger than the limit of ${options.bodyLimit} bytes; send fewer rows per request`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply(415, 'unsupported-media-type', 'send the request body as application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return reply(400, 'invalid-json', `the request body is not valid JSON (${error.message})`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return reply(400, 'invalid-content-length', 'the Content-Length header does not match the body');
    default:
      break;
  }
  if (error instanceof SyntaxError) return reply(400, 'invalid-json', `the request body is not valid JSON (${error.message})`);
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  return reply(
    status,
    status === 500 ? 'internal' : 'bad-request',
    status === 500 ? 'the server failed to answer; it logged the error' : error.message,
  );
}
