import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startWebServer } from './server.js';

const usage = `usage: node apps/web/serve.mjs [--model FILE.onnx] [--port 5173] [--host 127.0.0.1]

Serves the hyperproto web page. Open the printed address in a browser with WebGPU (Chromium, Chrome, Edge);
add ?ep=wasm to force the WebAssembly provider, ?ep=webgpu to refuse the fallback.`;

export async function main(argv: readonly string[]): Promise<void> {
  let values: { model?: string; port?: string; host?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { model: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
  try {
    // A package script (`pnpm --filter @hyperproto/web serve`) runs in apps/web; INIT_CWD is where it was typed.
    const model = values.model === undefined ? undefined : resolve(process.env.INIT_CWD ?? process.cwd(), values.model);
    const server = await startWebServer({ model, port, host: values.host });
    console.log(`serving ${values.model ? `${values.model} ` : ''}at ${server.url}  (Ctrl-C to stop)`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 3;
  }
}
