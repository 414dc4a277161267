import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A real npm registry (Verdaccio) on 127.0.0.1 that holds only what is published to it: no uplinks. */
export interface LocalRegistry {
  readonly url: string;
  /** The `//host:port/:_authToken=...` line npm and pnpm need to publish. */
  readonly authLine: string;
  stop(): Promise<void>;
}

const VERDACCIO = fileURLToPath(new URL('../node_modules/.bin/verdaccio', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export async function startLocalRegistry(dir: string): Promise<LocalRegistry> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $all',
      'log: { type: stdout, format: pretty, level: warn }',
      'max_body_size: 50mb',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(VERDACCIO, ['--config', config, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  // Ready when it answers its ping; bounded, and a crashed start says why.
  for (const started = Date.now(); ; ) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}: ${output}`);
    const ok = await fetch(`${url}-/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() - started > 60_000) {
      await stop();
      throw new Error(`verdaccio did not answer on ${url} within 60 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, authLine: `//127.0.0.1:${port}/:_authToken=local-test-token`, stop };
}
