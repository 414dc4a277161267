import { ErrorCode, HyperprotoError, PLUGIN_KINDS, z, type PluginKind } from '@hyperproto/core';
import type { GlobalOptions } from '../main.js';
import { Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';

interface OptionInfo {
  name: string;
  type: string;
  default?: unknown;
  description?: string;
  required: boolean;
}

export async function pluginsCommand(options: GlobalOptions & { kind?: string }): Promise<void> {
  if (options.kind && !(PLUGIN_KINDS as readonly string[]).includes(options.kind)) {
    throw new HyperprotoError(ErrorCode.InvalidOptions, `--kind ${options.kind}: expected one of ${PLUGIN_KINDS.join(', ')}`);
  }
  const output = new Output(options);
  const { loaded } = await buildRegistry({ config: options.config, plugins: options.plugin });
  const kinds = options.kind ? [options.kind as PluginKind] : PLUGIN_KINDS;
  const listing = kinds.map((kind) => ({
    kind,
    plugins: loaded
      .filter(({ plugin }) => plugin.kind === kind)
      .map(({ plugin, source }) => ({ name: plugin.name, summary: plugin.summary, source, options: describeOptions(plugin.options) })),
  }));
  output.result(listing, () =>
    listing
      .map(({ kind, plugins }) =>
        [
          `${kind}:`,
          ...plugins.map((p) => {
            const opts = p.options.map(
              (o) => `${o.name}${o.required ? '' : '?'}: ${o.type}${o.default !== undefined ? ` = ${JSON.stringify(o.default)}` : ''}`,
            );
            return `  ${p.name.padEnd(14)} ${p.summary}${p.source === 'builtin' ? '' : ` [${p.source}]`}${opts.length ? `\n  ${''.padEnd(14)} options: ${opts.join(', ')}` : ''}`;
          }),
        ].join('\n'),
      )
      .join('\n\n'),
  );
}

/** Option names, types and defaults read from the plugin's schema. */
function describeOptions(schema: unknown): OptionInfo[] {
  let json: { properties?: Record<string, { type?: string; default?: unknown; description?: string }>; required?: string[] };
  try {
    json = z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) as typeof json;
  } catch {
    return [];
  }
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    type: property.type ?? 'any',
    default: property.default,
    description: property.description,
    required: (json.required ?? []).includes(name),
  }));
}
