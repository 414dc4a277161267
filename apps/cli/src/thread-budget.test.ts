import { availableParallelism } from 'node:os';
import { ErrorCode } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { threadBudget } from './thread-budget.js';

describe('the thread budget of a command', () => {
  it('is every core this process may use unless HYPERPROTO_THREADS caps it', () => {
    expect(threadBudget({})).toBe(availableParallelism());
    expect(threadBudget({ HYPERPROTO_THREADS: '' })).toBe(availableParallelism());
    expect(threadBudget({ HYPERPROTO_THREADS: '3' })).toBe(3);
  });

  it('refuses a value that is not a whole number >= 1, naming the variable', () => {
    for (const bad of ['0', '-2', '1.5', 'many', '0x10']) {
      expect(() => threadBudget({ HYPERPROTO_THREADS: bad })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOptions, message: expect.stringContaining('HYPERPROTO_THREADS must be') }),
      );
    }
  });
});
