import { defineEngine, type EngineProbe, z } from '@hyperproto/core';
import { cudaProviderInstalled, openComputeSession } from '@hyperproto/onnxruntime-session';
import { trainOnnxMlp } from './train-onnx-mlp.js';

const PROVIDERS = ['cpu', 'cuda'] as const;
type Provider = (typeof PROVIDERS)[number];

export const onnxruntimeEngineOptionsSchema = z.strictObject({
  /** `auto`: CUDA where its provider library is installed and a session starts on it, else the CPU. */
  provider: z.enum(['auto', ...PROVIDERS]).default('auto'),
});

export type OnnxruntimeEngineOptions = z.output<typeof onnxruntimeEngineOptionsSchema>;

/** Below tfjs on native libtensorflow (10), above tfjs on wasm or plain JavaScript (see the tfjs engine's probe). */
export const ONNXRUNTIME_ENGINE_PRIORITY = 5;

const probes = new Map<OnnxruntimeEngineOptions['provider'], Promise<{ provider: Provider; skipped: string[] }>>();

/**
 * Loads onnxruntime-node once and picks its execution provider: with `auto`, CUDA where its provider library was
 * installed (`ONNXRUNTIME_NODE_INSTALL=cuda12` at install time) and a session starts on it, else the CPU; `cuda`
 * fails when CUDA cannot start; `cpu` never tries it.
 */
export function chooseProvider(wanted: OnnxruntimeEngineOptions['provider'] = 'auto'): Promise<{ provider: Provider; skipped: string[] }> {
  let probed = probes.get(wanted);
  if (!probed) {
    probed = (async () => {
      await import('onnxruntime-node');
      const skipped: string[] = [];
      if (wanted !== 'cpu') {
        const why = await cudaUnavailable();
        if (!why) return { provider: 'cuda' as const, skipped };
        if (wanted === 'cuda') throw new Error(`the CUDA execution provider was asked for but cannot start: ${why}`);
        skipped.push(`cuda: ${why}`);
      }
      return { provider: 'cpu' as const, skipped };
    })();
    probes.set(wanted, probed);
  }
  return probed;
}

async function cudaUnavailable(): Promise<string | undefined> {
  const ort = await import('onnxruntime-node');
  if (!ort.listSupportedBackends().some((b) => b.name === 'cuda')) return 'this onnxruntime-node build has no CUDA provider';
  // Checked on disk first: a failed attempt to load the provider prints an error of its own to stderr.
  if (!cudaProviderInstalled()) {
    return 'its provider library is not installed (install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12)';
  }
  try {
    const { GraphBuilder } = await import('@hyperproto/onnx-graph');
    const g = new GraphBuilder('probe');
    g.output(g.node('Relu', [g.input('x', 'float32', [1])]), 'float32', [1]);
    const session = await openComputeSession(g.toModel(), { providers: ['cuda'], threads: 1, silent: true });
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
  async probe(options?: OnnxruntimeEngineOptions): Promise<EngineProbe> {
    try {
      const { provider, skipped } = await chooseProvider(options?.provider);
      return { ok: true, backend: `onnxruntime/${provider}`, skipped };
    } catch (error) {
      return {
        ok: false,
        reason: `onnxruntime-node cannot start: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`,
      };
    }
  },
  async train(ctx, job, options) {
    const { provider } = await chooseProvider(options.provider);
    return trainOnnxMlp(ctx, job, { executionProviders: provider === 'cpu' ? ['cpu'] : [provider, 'cpu'] });
  },
});
