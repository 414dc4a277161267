import { describe, expect, it } from 'vitest';
import { initTfjs } from './index.js';

describe('initTfjs', () => {
  it('starts a backend, records why faster ones were skipped, and computes correctly', async () => {
    const runtime = await initTfjs();
    expect(['tensorflow', 'wasm', 'cpu']).toContain(runtime.backend);
    expect(runtime.tf.getBackend()).toBe(runtime.backend);
    if (runtime.backend !== 'tensorflow') expect(runtime.skipped[0]).toMatch(/^tensorflow: /);
    const product = runtime.tf.matMul(runtime.tf.tensor2d([[1, 2]]), runtime.tf.tensor2d([[3], [4]]));
    expect(await product.data()).toEqual(new Float32Array([11]));
  });

  it('starts once per process', async () => {
    expect(await initTfjs()).toBe(await initTfjs());
  });
});
