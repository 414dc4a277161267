import { defineEngine, z } from '@hyperproto/core';
import { initTfjs } from '@hyperproto/tfjs-backend';
import { trainMlp } from './train-mlp.js';

export const tfjsEngineOptionsSchema = z.strictObject({});

export type TfjsEngineOptions = z.output<typeof tfjsEngineOptionsSchema>;

/** The tfjs engine's priority when only its wasm or cpu backend starts: below onnxruntime's 5. */
export const TFJS_FALLBACK_PRIORITY = 1;

/** The seed's trainer on TensorFlow.js, on the fastest backend that starts (tfjs-node, wasm, cpu). */
export const tfjsEngine = defineEngine({
  name: 'tfjs',
  summary: 'TensorFlow.js trainer: MLP with batch norm and dropout, Adam, early stopping on validation accuracy',
  priority: 10,
  options: tfjsEngineOptionsSchema,
  async probe() {
    const { backend, skipped } = await initTfjs();
    // Only native libtensorflow is fast; on wasm or plain JavaScript, a native engine (onnxruntime) should win.
    return { ok: true, backend: `tfjs/${backend}`, skipped, ...(backend === 'tensorflow' ? {} : { priority: TFJS_FALLBACK_PRIORITY }) };
  },
  async train(ctx, job) {
    return trainMlp(await initTfjs(), ctx, job);
  },
});
