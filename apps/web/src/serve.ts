import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startWebServer } from './server.js';

const usage = `usage: node apps/web/serve.mjs [--model FILE.onnx] [--port 5173] [--host 127.0.0.1] [--allowed-host NAME ...]
                                [--shutdown-timeout 5]

Serves the hyperproto web page. Only requests whose Host header is 127.0.0.1, localhost, [::1], --host or an
--allowed-host are answered (403 otherwise). On Ctrl-C or SIGTERM, downloads under way get --shutdown-timeout
seconds to finish. Open the printed address in a browser with WebGPU (Chromium, Chrome, Edge);
add ?ep=wasm to force the WebAssembly provider, ?ep=webgpu to refuse the fallback.`;

export async function main(argv: readonly string[]): Promise<void> {
  let values: {
    model?: string;
    port?: string;
    host?: string;
    'allowed-host'?: string[];
    'shutdown-timeout'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        model: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'allowed-host': { type: 'string', multiple: true },
        'shutdown-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = values.port === undefined ? 5173 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a whole number from 0 to 65535, not ${values.port}`);
    process.exitCode = 2;
    return;
  }
  const grace = values['shutdown-timeout'] === undefined ? 5 : Number(values['shutdown-timeout']);
  if (!Number.isFinite(grace) || grace <= 0 || grace > 3600) {
    console.error(`--shutdown-timeout must be seconds from 0 to 3600, not ${values['shutdown-timeout']}`);
    process.exitCode = 2;
    return;
  }
  try {
    // A package script (`pnpm --filter @hyperproto/web serve`) runs in apps/web; INIT_CWD is where it was typed.
    const model = values.model === undefined ? undefined : resolve(process.env.INIT_CWD ?? process.cwd(), values.model);
    const server = await startWebServer({
      port,
      ...(model === undefined ? {} : { model }),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(values['allowed-host'] ? { allowedHosts: values['allowed-host'] } : {}),
    });
    console.log(`serving ${values.model ? `${values.model} ` : ''}at ${server.url}  (Ctrl-C to stop)`);
    // Exit 0 when every response finished within the grace period, 1 when some had to be cut off.
    const stop = () => void server.close(grace * 1000).then((drained) => process.exit(drained ? 0 : 1));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 3;
  }
}
