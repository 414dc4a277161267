import { ErrorCode, HyperprotoError, tagPluginError } from './errors.js';
import { resolveOptions } from './options.js';
import type { HeadDefinition } from './head-graph.js';
import { headParams } from './head-params.js';
import type { Plugin, PluginKind, PrototypeRequest } from './plugins.js';
import { KIND_LABEL, pluginId } from './registry.js';

type AnyFunction = (...args: any[]) => any;

/** The names of the hooks (methods) of a plugin type: `describe`, `inputs`, `inspect`, `generate`, `unsupported`, `build`, `evaluate`, `probe`, `train`. */
export type PluginHook<P> = { [K in keyof P]-?: NonNullable<P[K]> extends AnyFunction ? K : never }[keyof P] & string;
type HookFunction<P, H extends keyof P> = Extract<NonNullable<P[H]>, AnyFunction>;

/** Per kind, the hooks and the position of their options argument (`null`: the hook takes no options). */
const HOOKS: { readonly [K in PluginKind]: Readonly<Record<string, number | null>> } = {
  dataset: { describe: 0, inputs: 0, inspect: 0, generate: 1 },
  prototypes: { unsupported: 1, generate: 2 },
  head: { build: 1 },
  evaluator: { evaluate: 1 },
  engine: { probe: null, train: 2 },
};

/** Hooks the `define*` helpers route through {@link callPlugin}: those with options. `probe` has none, and its failure is a reason to try the next engine, which `chooseEngine` records. */
const BOUNDED_HOOKS: { readonly [K in PluginKind]: readonly string[] } = {
  dataset: ['describe', 'inputs', 'inspect', 'generate'],
  prototypes: ['unsupported', 'generate'],
  head: ['build'],
  evaluator: ['evaluate'],
  engine: ['train'],
};

/** Hooks a plugin may leave out: calling one it lacks answers undefined (nothing refused, nothing described). */
const OPTIONAL_HOOKS: ReadonlySet<string> = new Set(['unsupported', 'describe', 'inputs', 'inspect']);

/** A hook made by a `define*` helper keeps the plugin author's function here, which {@link callPlugin} runs. */
const IMPLEMENTATION = Symbol.for('hyperproto.hookImplementation');

/** The function the author wrote for `hook`: behind a `define*` wrapper, or the property itself. */
function implementation(plugin: Plugin, hook: string): AnyFunction | undefined {
  const value = (plugin as unknown as Record<string, unknown>)[hook];
  if (typeof value !== 'function') return undefined;
  return ((value as unknown as Record<symbol, unknown>)[IMPLEMENTATION] as AnyFunction | undefined) ?? (value as AnyFunction);
}

/**
 * A prototype strategy's `unsupported` refused the request before `generate` ran. The message names the strategy;
 * callers with a registry add the strategies that can (see `unsupportedPrototypes`).
 */
export class UnsupportedRequestError extends HyperprotoError {
  readonly request: PrototypeRequest;
  /** What the strategy's `unsupported` said. */
  readonly reason: string;

  constructor(strategy: { readonly kind: 'prototypes'; readonly name: string }, request: PrototypeRequest, reason: string, hint?: string) {
    super(
      ErrorCode.Unsupported,
      `${KIND_LABEL.prototypes} "${strategy.name}" cannot make ${request.classes} prototypes in ${request.dims} dimensions: ${reason}`,
      {
        hint,
        pluginId: pluginId(strategy),
      },
    );
    this.request = request;
    this.reason = reason;
  }
}

/**
 * The one way into a plugin: calls `plugin[hook](...args)` after validating the options argument against the
 * plugin's schema (E_INVALID_OPTIONS, `${kind}:${name} ${path}: ${message}`; options that schema already parsed
 * pass as they are), and for a prototype strategy's `generate` after asking its `unsupported` (an
 * {@link UnsupportedRequestError} when it refuses). Whatever the hook throws, synchronously or by rejecting, is
 * tagged with the plugin's id in place ({@link tagPluginError}). A synchronous hook stays synchronous; an
 * `async` one (and every engine hook, whose contract is a promise) reports the boundary's own refusals by
 * rejecting too, so its callers see one way of failing.
 *
 * The `define*` helpers route their plugins' hooks through here, so a direct call (`strategy.generate(...)`) gets
 * the same checks; called with such a plugin, this runs the author's function underneath, so nothing is checked
 * twice. An optional hook the plugin lacks (`unsupported`) answers undefined.
 */
export function callPlugin<P extends Plugin, H extends PluginHook<P>>(
  plugin: P,
  hook: H,
  ...args: Parameters<HookFunction<P, H>>
): ReturnType<HookFunction<P, H>> {
  const id = pluginId(plugin);
  const hooks = HOOKS[plugin.kind] as Readonly<Record<string, number | null>> | undefined;
  const optionsAt = hooks?.[hook];
  if (optionsAt === undefined) {
    throw new HyperprotoError(ErrorCode.Internal, `${hook} is not a hook of a ${KIND_LABEL[plugin.kind] ?? plugin.kind} (${id})`);
  }
  const fn = implementation(plugin, hook);
  if (!fn) {
    if (OPTIONAL_HOOKS.has(hook)) return undefined as ReturnType<HookFunction<P, H>>;
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${id} has no "${hook}" function`, { pluginId: id });
  }
  const callArgs: unknown[] = [...args];
  const fail = (error: unknown): never => {
    throw tagPluginError(error, id);
  };
  // A dataset's `describe` is synchronous by contract: an async one is refused by throwing, never by a rejection.
  const describes = plugin.kind === 'dataset' && hook === 'describe';
  const asynchronous = !describes && (plugin.kind === 'engine' || isAsyncFunction(fn));
  try {
    if (optionsAt !== null) callArgs[optionsAt] = resolveOptions(plugin, callArgs[optionsAt]);
    if (plugin.kind === 'prototypes' && hook === 'generate') {
      const request = callArgs[1] as PrototypeRequest;
      const why: unknown = implementation(plugin, 'unsupported')?.call(plugin, request, callArgs[2]);
      if (why) throw new UnsupportedRequestError(plugin, request, String(why));
    }
    // A built head whose parameters cannot start (no initial value) is refused here, naming the parameter.
    const checked = (value: unknown) => {
      if (plugin.kind === 'head' && hook === 'build' && isHeadDefinitionLike(value)) headParams(value);
      if (plugin.kind === 'dataset' && hook === 'inspect') checkDatasetDescription(value, 'inspect');
      return value;
    };
    const result: unknown = fn.apply(plugin, callArgs);
    if (describes) checkDatasetDescription(result, 'describe');
    if (isPromiseLike(result)) return Promise.resolve(result).then(checked).catch(fail) as ReturnType<HookFunction<P, H>>;
    return checked(result) as ReturnType<HookFunction<P, H>>;
  } catch (error) {
    if (asynchronous) return Promise.reject(tagPluginError(error, id)) as ReturnType<HookFunction<P, H>>;
    return fail(error);
  }
}

/** Loss and scores that are expressions; what is malformed otherwise is left to the callers' own checks. */
function isHeadDefinitionLike(value: unknown): value is HeadDefinition {
  const isExpr = (x: unknown) => typeof x === 'object' && x !== null && typeof (x as { op?: unknown }).op === 'string';
  return typeof value === 'object' && value !== null && isExpr((value as HeadDefinition).loss) && isExpr((value as HeadDefinition).scores);
}

/**
 * A dataset's `describe` answers an object of known sizes, synchronously, and its `inspect` resolves to one; anything
 * else is the plugin's bug.
 */
function checkDatasetDescription(value: unknown, hook: 'describe' | 'inspect'): void {
  const problem = datasetDescriptionProblem(value);
  if (problem) {
    const how =
      hook === 'describe'
        ? 'return { classes?, trainRows?, inputWidth? } (integers; classes >= 2) without awaiting anything'
        : 'resolve to { classes?, trainRows?, inputWidth? } (integers; classes >= 2)';
    throw new HyperprotoError(ErrorCode.InvalidPlugin, `${hook} returned ${problem}`, { hint: `${hook}(options) must ${how}.` });
  }
}

function datasetDescriptionProblem(value: unknown): string | undefined {
  if (isPromiseLike(value)) {
    // Refused as it is; its own outcome must not surface later as an unhandled rejection.
    Promise.resolve(value).catch(() => {});
    return 'a promise; expected an object (describe is synchronous)';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `${JSON.stringify(value) ?? String(value)}; expected an object`;
  const minimum = { classes: 2, trainRows: 1, inputWidth: 1 } as const;
  for (const [field, least] of Object.entries(minimum)) {
    const size = (value as Record<string, unknown>)[field];
    if (size !== undefined && !(Number.isInteger(size) && (size as number) >= least))
      return `${field} ${JSON.stringify(size) ?? String(size)}; expected an integer >= ${least} or no ${field}`;
  }
  return undefined;
}

function isAsyncFunction(fn: AnyFunction): boolean {
  return Object.prototype.toString.call(fn) === '[object AsyncFunction]';
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Routes the hooks of a plugin the `define*` helpers make through {@link callPlugin}. A hook called on a copy
 * (`{ ...plugin, name: 'other' }`) validates and tags as the copy; a hook taken from another defined plugin is
 * unwrapped first, so wrappers never nest.
 */
export function bindPluginHooks<P extends Plugin>(plugin: P): P {
  const target = plugin as unknown as Record<string, unknown>;
  for (const hook of BOUNDED_HOOKS[plugin.kind]) {
    const value = target[hook];
    if (typeof value !== 'function') continue;
    const author = ((value as unknown as Record<symbol, unknown>)[IMPLEMENTATION] as AnyFunction | undefined) ?? (value as AnyFunction);
    const bound = function (this: unknown, ...args: unknown[]): unknown {
      const self =
        typeof this === 'object' && this !== null && (this as Record<string, unknown>)[hook] === bound ? (this as Plugin) : plugin;
      return (callPlugin as (p: Plugin, h: string, ...a: unknown[]) => unknown)(self, hook, ...args);
    };
    Object.defineProperty(bound, IMPLEMENTATION, { value: author });
    Object.defineProperty(bound, 'name', { value: author.name || hook });
    target[hook] = bound;
  }
  return plugin;
}
