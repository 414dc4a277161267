import { fileURLToPath } from 'node:url';
import { ErrorCode } from '@hyperproto/core';
import { createSession, cudaProviderInstalled } from '@hyperproto/runtime-node';
import { describe, expect, it } from 'vitest';
import { sessionProviders } from './execution-provider-flags.js';

const SOFTMAX = fileURLToPath(new URL('../../../packages/runtime-node/src/test-fixtures/softmax-8x5-top3.onnx', import.meta.url));

describe('--ep and --allow-fallback', () => {
  it('become providers and fallback, with the hints worded in these flags', () => {
    expect(sessionProviders({ ep: 'cuda', allowFallback: true })).toEqual({
      providers: ['cuda', 'cpu'],
      fallback: true,
      optionWording: { cpuOnly: '--ep cpu', allowFallback: '--allow-fallback' },
    });
    expect(sessionProviders({}).providers).toEqual(['cpu']);
  });

  it.skipIf(cudaProviderInstalled())("name the flags, not the library's options, where CUDA cannot start", async () => {
    const error = (await createSession(SOFTMAX, sessionProviders({ ep: 'cuda' })).catch((e: unknown) => e)) as {
      code: string;
      hint: string;
    };
    expect(error.code).toBe(ErrorCode.NoEngine);
    expect(error.hint).toContain('To run on the CPU instead, choose --ep cpu, or allow the fallback with --allow-fallback.');
    expect(error.hint).not.toContain('providers:');
  });
});
