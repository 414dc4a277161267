import { afterEach, describe, expect, it } from 'vitest';
import { computeThreads, ErrorCode, THREADS_ENV } from './index.js';

describe('computeThreads', () => {
  afterEach(() => {
    delete process.env[THREADS_ENV];
  });

  it('uses every available core unless HYPERPROTO_THREADS caps it', () => {
    expect(computeThreads(8)).toBe(8);
    process.env[THREADS_ENV] = '3';
    expect(computeThreads(8)).toBe(3);
  });

  it('refuses a value that is not a whole number >= 1, naming the variable', () => {
    for (const bad of ['0', '-2', '1.5', 'many']) {
      process.env[THREADS_ENV] = bad;
      expect(() => computeThreads(8)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringContaining(`HYPERPROTO_THREADS must be`) }),
      );
    }
  });
});
