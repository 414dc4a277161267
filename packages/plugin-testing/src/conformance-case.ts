/** One check of a plugin, runnable under any test framework: `for (const c of cases) it(c.name, c.run)`. */
export interface ConformanceCase {
  readonly name: string;
  /** Resolves when the plugin passes; rejects with an Error naming the plugin and what was expected otherwise. */
  run(): Promise<void>;
}

export interface ConformanceFailure {
  readonly name: string;
  readonly error: Error;
}

/** Runs cases one after another and returns the ones that failed: for scripts and runners without `it`. */
export async function runConformanceCases(cases: Iterable<ConformanceCase>): Promise<ConformanceFailure[]> {
  const failures: ConformanceFailure[] = [];
  for (const c of cases) {
    try {
      await c.run();
    } catch (error) {
      failures.push({ name: c.name, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return failures;
}
