import * as tf from '@tensorflow/tfjs';

export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface TfjsRuntime {
  readonly tf: typeof tf;
  /** The backend in use: `tensorflow` (tfjs-node), `wasm` or `cpu`. */
  readonly backend: TfjsBackendName;
  /** Why each faster backend was passed over, in the order tried. */
  readonly skipped: readonly string[];
}

let started: Promise<TfjsRuntime> | undefined;

/**
 * Starts TensorFlow.js once per process on the fastest backend that loads: tfjs-node (native libtensorflow), then
 * the wasm backend (XNNPACK), then the pure-JS cpu backend. `HYPERPROTO_TFJS_BACKEND` forces one of them.
 */
export function initTfjs(): Promise<TfjsRuntime> {
  started ??= start();
  return started;
}

async function start(): Promise<TfjsRuntime> {
  const forced = process.env.HYPERPROTO_TFJS_BACKEND as TfjsBackendName | undefined;
  const order: TfjsBackendName[] = forced ? [forced] : ['tensorflow', 'wasm', 'cpu'];
  if (forced && !['tensorflow', 'wasm', 'cpu'].includes(forced)) {
    throw new Error(`HYPERPROTO_TFJS_BACKEND must be tensorflow, wasm or cpu, got "${forced}"`);
  }
  const skipped: string[] = [];
  for (const name of order) {
    try {
      await load(name);
      if (!(await tf.setBackend(name))) throw new Error('setBackend returned false');
      await tf.ready();
      return { tf, backend: name, skipped };
    } catch (error) {
      skipped.push(`${name}: ${explain(name, error)}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.join('; ')}`);
}

async function load(name: TfjsBackendName): Promise<void> {
  if (name === 'tensorflow') {
    // Optional dependency: absent or without its native library on machines that could not download it.
    const specifier = '@tensorflow/tfjs-node';
    await import(specifier);
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  }
}

function explain(name: TfjsBackendName, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'tensorflow' && /tfjs_binding\.node|Cannot find (module|package)/.test(message)) {
    // The common case on offline machines: the optional package or its downloaded native library is missing.
    return '@tensorflow/tfjs-node or its native library is not installed (its install downloads libtensorflow; reinstall on a connected machine to use it)';
  }
  return message.split('\n')[0]!.trim();
}
