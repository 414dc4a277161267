import { isHyperprotoError, resolveOptions, type OptionsSchema, type Plugin } from '@hyperproto/core';
import { conformanceError, describeError } from './conformance-error.js';
import { settleWithin } from './settle-within.js';

/** How long one plugin call may take before a check calls it a hang. */
export const DEFAULT_TIME_LIMIT_MS = 10_000;

export function pluginIdOf(plugin: { readonly kind: string; readonly name: string }): string {
  return `${plugin.kind}:${plugin.name}`;
}

/** Calls the plugin, turning a throw or a hang into a conformance error that says which call it was. */
export async function callPlugin<T>(pluginId: string, what: string, fn: () => T | Promise<T>, timeLimitMs: number): Promise<T> {
  const settled = await settleWithin(fn, timeLimitMs);
  if (settled.status === 'fulfilled') return settled.value;
  if (settled.status === 'timeout') {
    throw conformanceError(
      pluginId,
      `${what} did not finish within ${timeLimitMs} ms; expected it to finish well within that on these small sizes`,
    );
  }
  throw conformanceError(pluginId, `${what} threw ${describeError(settled.reason)}`, settled.reason);
}

/** The plugin's options after its own schema, as the pipeline passes them. */
export function parseOptions<O>(plugin: Plugin & { readonly options: OptionsSchema<O> }, raw: unknown): O {
  try {
    return resolveOptions(plugin, raw);
  } catch (error) {
    const message = isHyperprotoError(error) ? error.message : describeError(error);
    throw conformanceError(
      pluginIdOf(plugin),
      `its options schema refused ${JSON.stringify(raw ?? {})} (${message}); expected the options given to the suite to be valid`,
      error,
    );
  }
}
