import { ErrorCode, HyperprotoError, PLUGIN_KINDS, type PluginKind } from '@hyperproto/core';
import type { GlobalOptions } from '../main.js';
import { Output } from '../output.js';
import { buildRegistry } from '../plugin-loading.js';
import { readPluginOptions, type OptionBounds, type OptionInfo } from '../plugin-options.js';

/** The column the summaries, and the option lists under them, start at. */
const NAME_WIDTH = 14;
const INDENT = `  ${''.padEnd(NAME_WIDTH)} `;
/** Longest number the listing writes as a bound; a longer one (1e-300, 0.30000000000000004) is left to --json. */
const SHORT_BOUND = 8;

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
      .map(({ plugin, source }) => ({
        name: plugin.name,
        summary: plugin.summary,
        source,
        options: readPluginOptions(plugin.options)?.options ?? [],
      })),
  }));
  output.result(listing, () =>
    listing
      .map(({ kind, plugins }) =>
        [
          `${kind}:`,
          ...plugins.map((p) =>
            [
              `  ${p.name.padEnd(NAME_WIDTH)} ${p.summary}${p.source === 'builtin' ? '' : ` [${p.source}]`}`,
              ...(p.options.length ? [`${INDENT}options:`, ...p.options.flatMap(optionLines)] : []),
            ].join('\n'),
          ),
        ].join('\n'),
      )
      .join('\n\n'),
  );
}

/** `name?: type bounds = default`, then the description, each of its lines indented under the option. */
function optionLines(option: OptionInfo): string[] {
  const bounds = boundsText(option);
  const head = `${option.name}${option.required ? '' : '?'}: ${option.type}${bounds ? ` ${bounds}` : ''}${
    option.default !== undefined ? ` = ${JSON.stringify(option.default)}` : ''
  }`;
  const description = option.description?.split('\n').map((line) => `${INDENT}    ${line}`) ?? [];
  return [`${INDENT}  ${head}`, ...description];
}

/** `>= 1`, `> 0`, `<= 1`, or `in [0, 1)` for both ends; nothing when a bound is too long to read at a glance. */
function boundsText({ minimum, exclusiveMinimum, maximum, exclusiveMaximum }: OptionBounds): string {
  const low = exclusiveMinimum ?? minimum;
  const high = exclusiveMaximum ?? maximum;
  if ([low, high].some((value) => value !== undefined && String(value).length > SHORT_BOUND)) return '';
  const lowOpen = exclusiveMinimum !== undefined;
  const highOpen = exclusiveMaximum !== undefined;
  if (low !== undefined && high !== undefined) return `in ${lowOpen ? '(' : '['}${low}, ${high}${highOpen ? ')' : ']'}`;
  if (low !== undefined) return `${lowOpen ? '>' : '>='} ${low}`;
  if (high !== undefined) return `${highOpen ? '<' : '<='} ${high}`;
  return '';
}
