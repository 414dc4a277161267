import type { PluginKind } from '@hyperproto/core';
import { expect } from 'vitest';
import { runConformanceCases, type ConformanceCase } from '../conformance-case.js';

/** What the suites' own tests check of a suite's cases for a plugin of `kind`. */
export function conformanceExpectations(kind: PluginKind) {
  return {
    /** Every case passes; a failure shows as `name: message`. */
    async expectAllPass(cases: ConformanceCase[]): Promise<void> {
      const failures = await runConformanceCases(cases);
      expect(failures.map(({ name, error }) => `${name}: ${error.message}`)).toEqual([]);
    },

    /** A case whose name matches rejects with a plain Error that names the plugin and says what was wrong. */
    async expectFailure(cases: ConformanceCase[], name: RegExp, message: RegExp): Promise<void> {
      const matching = cases.filter((c) => name.test(c.name));
      expect(matching.length).toBeGreaterThan(0);
      const errors = await Promise.all(
        matching.map((c) =>
          c.run().then(
            () => undefined,
            (e: unknown) => e,
          ),
        ),
      );
      const error = errors.find((e) => e !== undefined);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).constructor).toBe(Error);
      expect((error as Error).message).toMatch(new RegExp(`^${kind}:[a-z0-9-]+: `));
      expect((error as Error).message).toMatch(message);
    },

    /** The one case whose name matches fails with a plain Error naming the plugin; the others pass. */
    async expectOnlyFailure(cases: ConformanceCase[], name: RegExp, message: RegExp): Promise<void> {
      const failures = await runConformanceCases(cases);
      expect(failures.map((f) => f.name)).toEqual([expect.stringMatching(name)]);
      const { error } = failures[0]!;
      expect(error.constructor).toBe(Error);
      expect(error.message).toMatch(new RegExp(`^${kind}:[a-z0-9-]+: `));
      expect(error.message).toMatch(message);
    },
  };
}
