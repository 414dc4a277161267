import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import type { Socket } from 'node:net';
import { stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowedHostNames, requestedHost } from '@hyperproto/allowed-hosts';

const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
};

/**
 * Cross-origin isolation lets onnxruntime-web use SharedArrayBuffer, so its wasm provider runs multi-threaded;
 * everything is same-origin, so the strict policies cost nothing.
 */
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
};

export interface WebServerOptions {
  /** The .onnx file served at /model.onnx, the page's default model. */
  readonly model?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** Loopback by default: WebGPU needs a secure origin, and 127.0.0.1 is one without TLS. */
  readonly host?: string;
  /** More Host header names to answer for, beyond loopback and `host` (DNS rebinding protection). */
  readonly allowedHosts?: readonly string[];
  /** Longest time to receive a request's headers; 10 s by default. */
  readonly headersTimeoutMs?: number;
  /** Longest time to receive a whole request; 30 s by default. */
  readonly requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open; 5 s by default. */
  readonly keepAliveTimeoutMs?: number;
  /** A connection with no traffic for this long is closed; 60 s by default (the model download can be large). */
  readonly idleTimeoutMs?: number;
  /** Most open connections; 256 by default. */
  readonly maxConnections?: number;
}

export interface WebServer {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, closes idle ones and those that stall, lets responses being sent finish, and
   * after `graceMs` (5 s by default) closes what is left. Resolves whether everything finished in time.
   */
  close(graceMs?: number): Promise<boolean>;
}

/** During shutdown, a connection still sending its request is dropped after this long without a byte. */
const SHUTDOWN_STALL_MS = 1_000;

/** The folders the page is assembled from, each under its URL prefix. */
export function staticRoots(): Record<string, string> {
  return {
    '/app/': join(appRoot, 'dist', 'page'),
    '/static/': join(appRoot, 'public'),
    '/runtime-web/': dirname(fileURLToPath(import.meta.resolve('@hyperproto/runtime-web'))),
    // Node resolves onnxruntime-web to its node build; the browser builds sit beside it in dist/.
    '/ort/': dirname(fileURLToPath(import.meta.resolve('onnxruntime-web'))),
  };
}

/** Serves the page, its scripts, onnxruntime-web's files and the model, on 127.0.0.1 unless told otherwise. */
export async function startWebServer(options: WebServerOptions = {}): Promise<WebServer> {
  const roots = staticRoots();
  const model = options.model ? resolve(options.model) : undefined;
  if (model) {
    const info = await stat(model).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`model file not found: ${model}`);
  }
  const host = options.host ?? '127.0.0.1';
  const allowed = allowedHostNames(host, options.allowedHosts);
  // Open connections, and those with a response under way: what shutdown waits for.
  const sockets = new Set<Socket>();
  const busy = new Set<Socket>();
  let closing = false;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeout);
  const server = createServer(
    // Node checks the header and request timeouts on this interval (30 s by default): often enough to matter.
    { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersTimeout / 2)) },
    (request, response) => {
      const requested = requestedHost(request.url, request.headers.host);
      if (!requested.name || !allowed.has(requested.name)) {
        // A page on another site that rebinds its name to this address must not read the model or the page, and a
        // target naming another host (the form sent to proxies) is not for this server.
        response.setHeader('Connection', 'close');
        return sendJson(
          response,
          requested.source === 'target' ? 421 : 403,
          requested.source === 'target'
            ? {
                error: {
                  code: 'misdirected-request',
                  message: `the request target ${JSON.stringify(request.url)} names the host ${JSON.stringify(requested.text)}, which this server does not answer for (it is not a proxy); allowed: ${[...allowed].join(', ')}`,
                },
              }
            : {
                error: {
                  code: 'host-not-allowed',
                  message: `this server does not answer for the Host ${JSON.stringify(requested.text)}; allowed: ${[...allowed].join(', ')} (add one with --allowed-host)`,
                },
              },
        );
      }
      if (closing) {
        response.setHeader('Connection', 'close');
        request.socket.setTimeout(0);
      }
      busy.add(request.socket);
      response.once('close', () => {
        busy.delete(request.socket);
        // A response that began before shutdown leaves a keep-alive connection behind: close it once idle.
        if (closing) setImmediate(() => server.closeIdleConnections());
      });
      handle(request, response, roots, model).catch((error: unknown) => {
        if (!response.headersSent) sendText(response, 500, `internal error: ${error instanceof Error ? error.message : String(error)}`);
        else response.destroy();
      });
    },
  );
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000;
  server.setTimeout(options.idleTimeoutMs ?? 60_000);
  server.maxConnections = options.maxConnections ?? 256;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 5173, host, () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 5173);
  const close = async (graceMs = 5_000): Promise<boolean> => {
    closing = true;
    const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    server.closeIdleConnections();
    // A connection still sending its request is closed once it stalls; one being answered is left alone.
    for (const socket of sockets) if (!busy.has(socket)) socket.setTimeout(Math.min(SHUTDOWN_STALL_MS, graceMs));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolveLate) => {
        timer = setTimeout(() => resolveLate(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!late) return true;
    server.closeAllConnections();
    for (const socket of sockets) socket.destroy();
    await closed;
    return false;
  };
  return {
    server,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close,
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  roots: Record<string, string>,
  model: string | undefined,
): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return sendText(response, 405, 'only GET and HEAD');
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
  } catch {
    return sendText(response, 400, 'malformed URL');
  }
  if (pathname === '/' || pathname === '/index.html') return sendFile(request, response, join(appRoot, 'public', 'index.html'));
  if (pathname === '/model.onnx') {
    if (!model)
      return sendText(response, 404, 'no model is being served: start the server with --model FILE.onnx, or pick a file in the page');
    return sendFile(request, response, model, 'application/octet-stream');
  }
  if (pathname === '/favicon.ico') return sendText(response, 404, 'no icon');
  for (const [prefix, root] of Object.entries(roots)) {
    if (!pathname.startsWith(prefix)) continue;
    const file = resolve(root, `.${pathname.slice(prefix.length - 1)}`);
    // `resolve` collapses `..`; anything that ends up outside the root is refused.
    if (file !== root && !file.startsWith(root + sep)) return sendText(response, 403, 'outside the served folders');
    return sendFile(request, response, file);
  }
  return sendText(response, 404, `not found: ${pathname}`);
}

async function sendFile(request: IncomingMessage, response: ServerResponse, file: string, type?: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return sendText(response, 404, `not found: ${request.url ?? ''}`);
  // Revalidated on every load, so a re-exported model or a rebuilt page shows at once, while an unchanged 27 MB
  // onnxruntime wasm file is answered with 304 and the browser reuses its compiled code.
  const etag = `W/"${info.size.toString(36)}-${Math.trunc(info.mtimeMs).toString(36)}"`;
  const headers = { ...ISOLATION_HEADERS, 'Cache-Control': 'no-cache', ETag: etag, 'Last-Modified': info.mtime.toUTCString() };
  if (request.headers['if-none-match'] === etag) {
    response.writeHead(304, headers);
    response.end();
    return;
  }
  response.writeHead(200, {
    ...headers,
    'Content-Type': type ?? MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  await new Promise<void>((resolveSend, reject) => {
    const stream = createReadStream(file);
    stream.on('error', reject);
    response.on('close', () => resolveSend());
    stream.pipe(response);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(`${JSON.stringify(body)}\n`);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { ...ISOLATION_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(`${text}\n`);
}
