import { ContractErrorCode, ModelContractError } from './contract-error.js';

/** An execution provider that was tried and could not start (or could not run the model), with why. */
export interface SkippedProvider<P extends string = string> {
  readonly provider: P;
  readonly reason: string;
  /** What to do about it, e.g. how to install the provider. */
  readonly hint?: string;
}

/** What trying one provider gave: its session, or why it cannot be used here. */
export type ProviderOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string; readonly hint?: string; readonly cause?: unknown };

export interface ProviderChoiceOptions {
  /**
   * Whether a provider that cannot start may be passed over for the next one in the list. Without it the first
   * failure is the answer (`E_NO_ENGINE`), so a deployment never runs on another provider unnoticed.
   */
  readonly fallback: boolean;
  /** Names the model in messages. */
  readonly source: string;
  /** Told each time a provider is passed over for the next. */
  readonly log?: (message: string) => void;
}

export interface ProviderChoice<P extends string, T> {
  readonly value: T;
  /** The provider that runs the model. */
  readonly provider: P;
  /** The providers tried before it, in order, with why each was passed over. */
  readonly skipped: readonly SkippedProvider<P>[];
}

/**
 * Refuses an empty provider list, a name outside `known` and a name listed twice (`E_INVALID_OPTIONS`, listing
 * the known names).
 */
export function checkProviderList<P extends string>(providers: readonly string[], known: readonly P[]): readonly P[] {
  if (providers.length === 0)
    throw new ModelContractError(ContractErrorCode.InvalidOptions, `name at least one execution provider (${known.join(', ')})`);
  for (const provider of providers) {
    if (!(known as readonly string[]).includes(provider)) {
      throw new ModelContractError(
        ContractErrorCode.InvalidOptions,
        `unknown execution provider "${String(provider)}"; choose from ${known.join(', ')}`,
      );
    }
  }
  if (new Set(providers).size !== providers.length)
    throw new ModelContractError(ContractErrorCode.InvalidOptions, `execution provider listed twice: ${providers.join(', ')}`);
  return providers as readonly P[];
}

/**
 * The one fallback policy of every runtime. Providers are tried in the caller's order of preference:
 * - the first that starts runs the model, and the ones before it are reported in `skipped`, with why;
 * - a provider that cannot start is passed over for the next one only when `fallback` is true (and logged);
 *   otherwise, or when none is left, the answer is `E_NO_ENGINE` listing `[provider] reason` for each one tried,
 *   with the last one's hint (or, when the fallback was not allowed, how to allow it);
 * - an error `start` throws (rather than returns) is the model's, not the provider's: it is thrown at once,
 *   since the next provider would fail the same way.
 */
export async function startOnFirstProvider<P extends string, T>(
  providers: readonly P[],
  options: ProviderChoiceOptions,
  start: (provider: P) => Promise<ProviderOutcome<T>>,
): Promise<ProviderChoice<P, T>> {
  const skipped: SkippedProvider<P>[] = [];
  for (let i = 0; i < providers.length; i++) {
    const provider = providers[i]!;
    const outcome = await start(provider);
    if (outcome.ok) return { value: outcome.value, provider, skipped };
    skipped.push({ provider, reason: outcome.reason, ...(outcome.hint === undefined ? {} : { hint: outcome.hint }) });
    const next = providers[i + 1];
    if (next !== undefined && options.fallback) {
      options.log?.(`${provider} execution provider unavailable: ${outcome.reason}; falling back to ${next} as allowed`);
      continue;
    }
    const tried = skipped.map((s) => `[${s.provider}] ${s.reason}`).join('; ');
    const hint =
      outcome.hint ??
      (next === undefined ? undefined : `To run on ${next} when ${provider} cannot start, allow the fallback (fallback: true).`);
    throw new ModelContractError(ContractErrorCode.NoEngine, `no execution provider could start for ${options.source}: ${tried}`, {
      ...(outcome.cause === undefined ? {} : { cause: outcome.cause }),
      ...(hint === undefined ? {} : { hint }),
    });
  }
  throw new ModelContractError(ContractErrorCode.InvalidOptions, 'no execution provider to try');
}
