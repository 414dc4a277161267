import { fileURLToPath } from 'node:url';
import { ErrorCode } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { cudaProviderInstalled, explainCudaFailure, SESSION_OPTION_WORDING } from './execution-providers.js';
import { createSession } from './model-session.js';

const SOFTMAX = fileURLToPath(new URL('./test-fixtures/softmax-8x5-top3.onnx', import.meta.url));

// A library user sets `providers` and `fallback`, a command line its flags: each hint speaks the caller's terms.
describe('hints of a provider that cannot start', () => {
  const failure = new Error('Failed to load shared library libonnxruntime_providers_cuda.so');

  it("word the remedy in createSession's options by default", () => {
    const { hint } = explainCudaFailure(failure);
    expect(hint).toContain(
      "To run on the CPU instead, choose providers: ['cpu'], or allow the fallback with fallback: true (with 'cpu' after 'cuda' in providers).",
    );
    expect(hint).not.toMatch(/--ep|--allow-fallback/);
    expect(explainCudaFailure(failure, SESSION_OPTION_WORDING)).toEqual(explainCudaFailure(failure));
  });

  it("word it in the caller's terms when given", () => {
    const { hint } = explainCudaFailure(failure, { cpuOnly: '--ep cpu', allowFallback: '--allow-fallback' });
    expect(hint).toContain('To run on the CPU instead, choose --ep cpu, or allow the fallback with --allow-fallback.');
  });

  it.skipIf(cudaProviderInstalled())('reach skipped[].hint and the E_NO_ENGINE error in those terms', async () => {
    const session = await createSession(SOFTMAX, { providers: ['cuda', 'cpu'], fallback: true });
    try {
      // The fallback is on already: the hint does not ask for it.
      expect(session.skipped[0]?.hint).toContain("To run on the CPU instead, choose providers: ['cpu'].");
      expect(session.skipped[0]?.hint).not.toContain('allow the fallback');
    } finally {
      await session.release();
    }
    const wording = { cpuOnly: '--ep cpu', allowFallback: '--allow-fallback' };
    const error = (await createSession(SOFTMAX, { providers: ['cuda'], optionWording: wording }).catch((e: unknown) => e)) as {
      code: string;
      hint: string;
    };
    expect(error.code).toBe(ErrorCode.NoEngine);
    expect(error.hint).toContain('choose --ep cpu, or allow the fallback with --allow-fallback.');
  });

  it.skipIf(cudaProviderInstalled())(
    "keep the fallback's advice when it is allowed but no provider is listed after 'cuda', so none can run",
    async () => {
      await expect(createSession(SOFTMAX, { providers: ['cuda'], fallback: true })).rejects.toMatchObject({
        code: ErrorCode.NoEngine,
        hint: expect.stringContaining(
          "To run on the CPU instead, choose providers: ['cpu'], or allow the fallback with fallback: true (with 'cpu' after 'cuda' in providers).",
        ),
      });
    },
  );
});
