// A real Redis for tests: Debian's redis-server on a free 127.0.0.1 port, its data in a temporary directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * Why tests that need Redis cannot run here, or undefined when they can. Under CI=true a missing server is an error
 * (CI installs it), elsewhere a reason to skip that the caller prints.
 */
export function redisMissing(): string | undefined {
  if (existsSync(REDIS_SERVER)) return undefined;
  const reason = `${REDIS_SERVER} is not installed (apt-get install redis-server)`;
  if (process.env.CI === 'true') throw new Error(`${reason}: CI must install it (.ci/run does)`);
  return reason;
}

export interface RedisServerOptions {
  /** Clients must AUTH with this (requirepass). */
  readonly password?: string;
  /** Keep an append-only file, so a restart keeps the data (default: no persistence at all). */
  readonly appendonly?: boolean;
}

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT/0 (with the password, when there is one). */
  readonly url: string;
  /** Kills the server (SIGKILL: nothing is saved on the way out) and starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops the server (SIGSTOP): its connections stay up and nothing answers, as a hung server or network does. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hyperproto-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    ...(options.password ? ['--requirepass', options.password] : []),
  ];
  let child = await launch(args, port, options.password);
  const stopChild = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}/0`,
    async restart() {
      await stopChild();
      child = await launch(args, port, options.password);
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(args: string[], port: number, password: string | undefined): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (code ${child.exitCode}): ${output}`);
    const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    const ready = await client
      .connect()
      .then(() => client.ping())
      .then(
        () => true,
        () => false,
      );
    client.disconnect();
    if (ready) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port} within 10 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nothing listens on now (the OS picks it; the server takes it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
