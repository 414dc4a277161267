import type { z } from 'zod';
import { ErrorCode, HyperprotoError } from './errors.js';
import type { Plugin } from './plugins.js';
import { pluginId } from './registry.js';

/** Formats zod issues as `path: message`, one per line, with the dotted path of each. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const where = [prefix, path].filter(Boolean).join(' ');
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Validates raw options against the plugin's schema, before the plugin ever sees them. */
export function resolveOptions<O>(plugin: Plugin & { options: z.ZodType<O> }, raw: unknown): O {
  const result = plugin.options.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw new HyperprotoError(ErrorCode.InvalidOptions, formatIssues(result.error.issues, pluginId(plugin)), {
    pluginId: pluginId(plugin),
    hint: `Run \`hyperproto plugins --kind ${plugin.kind}\` to see the options of ${pluginId(plugin)}.`,
  });
}
