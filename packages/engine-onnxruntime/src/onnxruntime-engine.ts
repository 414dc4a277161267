import { defineEngine, ErrorCode, HyperprotoError, z, type EngineProbe } from '@hyperproto/core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { trainOnnxMlp } from './train-onnx-mlp.js';

export const onnxruntimeEngineOptionsSchema = z.strictObject({});

export type OnnxruntimeEngineOptions = z.output<typeof onnxruntimeEngineOptionsSchema>;

/** Below tfjs on native libtensorflow (10), above tfjs on wasm or plain JavaScript (see the tfjs engine's probe). */
export const ONNXRUNTIME_ENGINE_PRIORITY = 5;

const PROVIDERS = ['cpu', 'cuda'] as const;
type Provider = (typeof PROVIDERS)[number];

let probed: Promise<{ provider: Provider; skipped: string[] }> | undefined;

/**
 * Loads onnxruntime-node once and picks its execution provider: CUDA where its provider library was installed
 * (`ONNXRUNTIME_NODE_INSTALL=cuda12` at install time) and a session starts on it, else the CPU.
 * `HYPERPROTO_ONNXRUNTIME_PROVIDER=cpu|cuda` forces one.
 */
export function chooseProvider(): Promise<{ provider: Provider; skipped: string[] }> {
  probed ??= (async () => {
    const forced = process.env.HYPERPROTO_ONNXRUNTIME_PROVIDER;
    if (forced !== undefined && !PROVIDERS.includes(forced as Provider)) {
      throw new HyperprotoError(
        ErrorCode.InvalidOptions,
        `HYPERPROTO_ONNXRUNTIME_PROVIDER must be ${PROVIDERS.join(' or ')}, got "${forced}"`,
      );
    }
    const ort = await import('onnxruntime-node');
    const skipped: string[] = [];
    if (forced !== 'cpu') {
      const why = await cudaUnavailable(ort);
      if (!why) return { provider: 'cuda', skipped };
      if (forced === 'cuda') throw new Error(`the CUDA execution provider was asked for but cannot start: ${why}`);
      skipped.push(`cuda: ${why}`);
    }
    return { provider: 'cpu', skipped };
  })();
  return probed;
}

async function cudaUnavailable(ort: typeof import('onnxruntime-node')): Promise<string | undefined> {
  if (!ort.listSupportedBackends().some((b) => b.name === 'cuda')) return 'this onnxruntime-node build has no CUDA provider';
  // Checked on disk first: a failed attempt to load the provider prints an error of its own to stderr.
  const binding = join(
    dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
  const library = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  if (!existsSync(join(binding, library))) {
    return 'its provider library is not installed (install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12)';
  }
  try {
    const { GraphBuilder } = await import('@hyperproto/onnx-graph');
    const g = new GraphBuilder('probe');
    g.output(g.node('Relu', [g.input('x', 'float32', [1])]), 'float32', [1]);
    const session = await ort.InferenceSession.create(g.toModel(), { executionProviders: ['cuda'], logSeverityLevel: 4 });
    await session.release();
    return undefined;
  } catch (error) {
    return (error instanceof Error ? error.message : String(error)).split('\n')[0];
  }
}

/** The whole training step (forward, loss, gradients, Adam) as one ONNX graph run by onnxruntime. */
export const onnxruntimeEngine = defineEngine({
  name: 'onnxruntime',
  summary:
    'Trainer on onnxruntime: the same MLP and heads as tfjs, the training step as one ONNX graph with gradients from per-operator rules',
  priority: ONNXRUNTIME_ENGINE_PRIORITY,
  options: onnxruntimeEngineOptionsSchema,
  async probe(): Promise<EngineProbe> {
    try {
      const { provider, skipped } = await chooseProvider();
      return { ok: true, backend: `onnxruntime/${provider}`, skipped };
    } catch (error) {
      return {
        ok: false,
        reason: `onnxruntime-node cannot start: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`,
      };
    }
  },
  async train(ctx, job) {
    const { provider } = await chooseProvider();
    return trainOnnxMlp(ctx, job, { executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'] });
  },
});
