import { ErrorCode, isHyperprotoError, type Matrix, matrixProblem, type PrototypeRequest, type PrototypeStrategy } from '@hyperproto/core';
import type { ConformanceCase } from './conformance-case.js';
import { conformanceError, describeError } from './conformance-error.js';
import { callPlugin, DEFAULT_TIME_LIMIT_MS, parseOptions, pluginIdOf } from './plugin-calls.js';
import { sameBytes } from './same-bytes.js';
import { seededContext } from './seeded-context.js';
import { settleWithin } from './settle-within.js';

export interface PrototypeStrategyConformanceOptions {
  /** Sizes to generate; those the strategy declares `unsupported` are skipped (at least one must be served). */
  readonly sizes?: readonly PrototypeRequest[];
  /** The strategy's options, before its schema (e.g. `{ steps: 20 }` to keep an iterative strategy quick). */
  readonly options?: unknown;
  /** Declares that the rows do not depend on the seed; otherwise two seeds giving the same bytes is a failure. */
  readonly deterministic?: boolean;
  /** Longest a single generate call may take. */
  readonly timeLimitMs?: number;
}

export const DEFAULT_PROTOTYPE_SIZES: readonly PrototypeRequest[] = [
  { classes: 10, dims: 5 },
  { classes: 12, dims: 16 },
  { classes: 3, dims: 2 },
];

/** |norm - 1| allowed for a returned row: float32 rounding of a normalised row stays far below it. */
export const UNIT_ROW_TOLERANCE = 1e-4;

/** Requests beyond the given sizes on which `unsupported` must still answer undefined or a reason. */
const EDGE_SIZES: readonly PrototypeRequest[] = [
  { classes: 2, dims: 1 },
  { classes: 1000, dims: 2 },
  { classes: 2, dims: 1000 },
];

/**
 * What every prototype strategy promises: C x D float32 unit rows for each size it serves, the same bytes for the
 * same seed (other bytes for another), a well-formed `unsupported`, an aborted signal honoured without a hang,
 * and options whose defaults parse from `{}`.
 */
export function prototypeStrategyConformance(
  strategy: PrototypeStrategy,
  options: PrototypeStrategyConformanceOptions = {},
): ConformanceCase[] {
  const id = pluginIdOf(strategy);
  const sizes = options.sizes ?? DEFAULT_PROTOTYPE_SIZES;
  const timeLimitMs = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const parsed = () => parseOptions(strategy, options.options);
  const label = ({ classes, dims }: PrototypeRequest) => `${classes} x ${dims}`;

  const unsupportedReason = (request: PrototypeRequest, parsedOptions: unknown): string | undefined => {
    let reason: unknown;
    try {
      reason = strategy.unsupported?.(request, parsedOptions);
    } catch (error) {
      throw conformanceError(
        id,
        `unsupported(${label(request)}) threw ${describeError(error)}; expected undefined or a reason string`,
        error,
      );
    }
    if (reason === undefined || (typeof reason === 'string' && reason.trim() !== '')) return reason;
    throw conformanceError(
      id,
      `unsupported(${label(request)}) returned ${JSON.stringify(reason) ?? String(reason)}; expected undefined (served) or a non-empty reason string`,
    );
  };

  const generate = (seed: number, request: PrototypeRequest, parsedOptions: unknown) =>
    callPlugin(
      id,
      `generate(${label(request)}) with seed ${seed}`,
      () => strategy.generate(seededContext(seed), request, parsedOptions),
      timeLimitMs,
    );

  /** The first size the strategy serves: where seeding and abort are checked. */
  const firstServed = (parsedOptions: unknown): PrototypeRequest => {
    const served = sizes.find((size) => unsupportedReason(size, parsedOptions) === undefined);
    if (!served)
      throw conformanceError(
        id,
        `declares every size unsupported (${sizes.map(label).join(', ')}); pass sizes it serves in the suite's options`,
      );
    return served;
  };

  const cases: ConformanceCase[] = [
    {
      name: 'options schema parses {} (the defaults)',
      run: async () => {
        const result = strategy.options.safeParse({});
        if (!result.success)
          throw conformanceError(id, `its options schema refuses {}: ${result.error.message}; expected every option to have a default`);
      },
    },
    {
      name: 'unsupported returns undefined or a non-empty reason',
      run: async () => {
        const parsedOptions = parsed();
        for (const size of [...sizes, ...EDGE_SIZES]) unsupportedReason(size, parsedOptions);
        firstServed(parsedOptions);
      },
    },
  ];

  for (const size of sizes) {
    cases.push({
      name: `returns ${label(size)} float32 finite unit rows`,
      run: async () => {
        const parsedOptions = parsed();
        if (unsupportedReason(size, parsedOptions) !== undefined) return;
        checkUnitRows(id, await generate(1, size, parsedOptions), size);
      },
    });
  }

  cases.push(
    {
      name: options.deterministic
        ? 'gives the same bytes for every seed (deterministic)'
        : 'gives identical bytes for the same seed and others for another seed',
      run: async () => {
        const parsedOptions = parsed();
        const size = firstServed(parsedOptions);
        const a = await generate(1, size, parsedOptions);
        const b = await generate(1, size, parsedOptions);
        const c = await generate(2, size, parsedOptions);
        if (!sameBytes(a.data, b.data)) {
          throw conformanceError(
            id,
            `seed 1 gave different bytes on two runs at ${label(size)}; expected identical bytes: draw randomness only from ctx.rng, never Math.random or the clock`,
          );
        }
        const seedMatters = !sameBytes(a.data, c.data);
        if (options.deterministic && seedMatters) {
          throw conformanceError(
            id,
            `seeds 1 and 2 gave different rows at ${label(size)}, but the suite was told it is deterministic; expected the same bytes for every seed`,
          );
        }
        if (!options.deterministic && !seedMatters) {
          throw conformanceError(
            id,
            `seeds 1 and 2 gave identical rows at ${label(size)}; expected the seed to change them (if the strategy is deterministic by design, pass { deterministic: true })`,
          );
        }
      },
    },
    {
      name: 'an aborted signal rejects with E_ABORTED or finishes, without a hang',
      run: async () => {
        const parsedOptions = parsed();
        const size = firstServed(parsedOptions);
        const ctx = seededContext(1, { signal: AbortSignal.abort() });
        const settled = await settleWithin(() => strategy.generate(ctx, size, parsedOptions), timeLimitMs);
        if (settled.status === 'timeout') {
          throw conformanceError(
            id,
            `generate(${label(size)}) with an aborted signal did not settle within ${timeLimitMs} ms; expected long loops to check ctx.signal and stop`,
          );
        }
        if (settled.status === 'rejected' && !(isHyperprotoError(settled.reason) && settled.reason.code === ErrorCode.Aborted)) {
          throw conformanceError(
            id,
            `generate(${label(size)}) with an aborted signal threw ${describeError(settled.reason)}; expected a HyperprotoError with code ${ErrorCode.Aborted} (or a normal result)`,
            settled.reason,
          );
        }
      },
    },
  );
  return cases;
}

function checkUnitRows(id: string, matrix: Matrix, { classes, dims }: PrototypeRequest): void {
  const fail = (message: string): never => {
    throw conformanceError(id, `generate(${classes} x ${dims}) ${message}`);
  };
  // A Matrix first, as core checks what a strategy returns in a real run; then the shape asked for.
  const problem = matrixProblem(matrix);
  if (problem) fail(`returned ${problem}`);
  if (matrix.rows !== classes || matrix.cols !== dims)
    fail(`returned ${matrix.rows} x ${matrix.cols}; expected ${classes} x ${dims} (one row per class)`);
  for (let row = 0; row < classes; row++) {
    let squared = 0;
    for (let k = 0; k < dims; k++) {
      const value = matrix.data[row * dims + k]!;
      if (!Number.isFinite(value)) fail(`row ${row} has the non-finite value ${value} in column ${k}; expected finite values`);
      squared += value * value;
    }
    const norm = Math.sqrt(squared);
    if (Math.abs(norm - 1) >= UNIT_ROW_TOLERANCE)
      fail(`row ${row} has L2 norm ${norm.toPrecision(7)}; expected unit rows (|norm - 1| < ${UNIT_ROW_TOLERANCE})`);
  }
}
