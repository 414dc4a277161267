import { ErrorCode, HyperprotoError } from '@hyperproto/core';
import type { ExecutionProvider, ProviderOptionWording, SessionOptions } from '@hyperproto/runtime-node';

export interface ExecutionProviderFlags {
  /** `cpu`, `cuda`, or a comma-separated preference list such as `cuda,cpu`. */
  ep?: string;
  allowFallback?: boolean;
}

/** The session's hints (a provider that cannot start) in this command line's flags rather than session options. */
export const FLAG_WORDING: ProviderOptionWording = { cpuOnly: '--ep cpu', allowFallback: '--allow-fallback' };

/**
 * `--ep` and `--allow-fallback` as session options, with the hints worded in those flags. `--ep cuda --allow-fallback` means cuda, then cpu; without
 * the flag a provider that cannot start is an error, so a GPU deployment never runs on the CPU unnoticed.
 */
export function sessionProviders(flags: ExecutionProviderFlags): Pick<SessionOptions, 'providers' | 'fallback' | 'optionWording'> {
  const names = (flags.ep ?? 'cpu')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (name !== 'cpu' && name !== 'cuda') {
      throw new HyperprotoError(ErrorCode.InvalidOptions, `--ep ${name} is not an execution provider; choose cpu or cuda (or cuda,cpu)`);
    }
  }
  if (names.length === 0) throw new HyperprotoError(ErrorCode.InvalidOptions, '--ep needs cpu or cuda');
  const providers = [...new Set(names)] as ExecutionProvider[];
  if (flags.allowFallback && !providers.includes('cpu')) providers.push('cpu');
  return { providers, fallback: Boolean(flags.allowFallback), optionWording: FLAG_WORDING };
}
