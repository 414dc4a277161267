import { availableParallelism } from 'node:os';
import { ErrorCode } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { MAX_THREADS, threadBudget } from './thread-budget.js';

describe('the thread budget of a command', () => {
  it('is every core this process may use unless HYPERPROTO_THREADS caps it', () => {
    expect(threadBudget({})).toBe(availableParallelism());
    expect(threadBudget({ HYPERPROTO_THREADS: '' })).toBe(availableParallelism());
    expect(threadBudget({ HYPERPROTO_THREADS: '3' })).toBe(3);
  });

  it('allows up to 4 threads per core, as predict --threads', () => {
    expect(MAX_THREADS).toBe(4 * availableParallelism());
    expect(threadBudget({ HYPERPROTO_THREADS: String(MAX_THREADS) })).toBe(MAX_THREADS);
  });

  it('refuses more than 4 threads per core, naming the variable, the value and the range', () => {
    for (const bad of [String(MAX_THREADS + 1), '100000', '9007199254740991']) {
      expect(() => threadBudget({ HYPERPROTO_THREADS: bad })).toThrow(
        expect.objectContaining({
          code: ErrorCode.InvalidOptions,
          message: `HYPERPROTO_THREADS must be a whole number of threads from 1 to ${MAX_THREADS} (4 x the ${availableParallelism()} cores), got "${bad}"`,
        }),
      );
    }
  });

  it('refuses a value that is not a whole number >= 1, naming the variable', () => {
    for (const bad of ['0', '-2', '1.5', 'many', '0x10']) {
      expect(() => threadBudget({ HYPERPROTO_THREADS: bad })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringContaining('HYPERPROTO_THREADS must be') }),
      );
    }
  });
});
