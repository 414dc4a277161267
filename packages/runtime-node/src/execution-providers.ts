import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { onnxruntimeNodeLocation } from '@hyperproto/onnxruntime-session';

// Where onnxruntime-node keeps its libraries is found in one place, @hyperproto/onnxruntime-session, which the
// training engine asks too; this runtime keeps its own session options (onnxruntime's defaults, for deployments).
export { cudaProviderInstalled, onnxruntimeNodeLocation } from '@hyperproto/onnxruntime-session';

/** Execution providers this runtime chooses between, in the user's order of preference. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export function isExecutionProvider(value: string): value is ExecutionProvider {
  return (EXECUTION_PROVIDERS as readonly string[]).includes(value);
}

/** The environment variable onnxruntime-node's install script reads to fetch its CUDA 12 libraries. */
export const CUDA_INSTALL_ENV = 'ONNXRUNTIME_NODE_INSTALL=cuda12';

/**
 * How the caller's users choose providers, for the hints of a provider that cannot start: session options by
 * default; a command line passes its own flags (e.g. `--ep cpu`, `--allow-fallback`), so each says what its users type.
 */
export interface ProviderOptionWording {
  /** How to run on the CPU alone. */
  readonly cpuOnly: string;
  /** How to let a provider that cannot start be passed over for the CPU. */
  readonly allowFallback: string;
}

/** The hints' wording in `createSession`'s own options. */
export const SESSION_OPTION_WORDING: ProviderOptionWording = {
  cpuOnly: "providers: ['cpu']",
  allowFallback: "fallback: true (with 'cpu' after 'cuda' in providers)",
};

/**
 * Why CUDA could not start, and what to do about it, for a session creation that failed with `error`.
 * `fallbackRuns`: the caller allows the fallback and lists a provider after this one, which runs instead, so the
 * hint does not suggest it (with the fallback allowed but nothing after 'cuda', it still says how to fall back).
 */
export function explainCudaFailure(
  error: unknown,
  wording: ProviderOptionWording = SESSION_OPTION_WORDING,
  fallbackRuns = false,
): { reason: string; hint: string } {
  const orFallback = fallbackRuns ? '' : `, or allow the fallback with ${wording.allowFallback}`;
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  const { packageDir, cudaLibrary } = onnxruntimeNodeLocation();
  if (process.platform !== 'linux' && process.platform !== 'win32') {
    return { reason: `onnxruntime-node has no CUDA provider on ${process.platform}`, hint: `Use ${wording.cpuOnly} on this machine.` };
  }
  if (!existsSync(cudaLibrary) || /Failed to load shared library|providers_shared|providers_cuda/.test(message)) {
    return {
      reason: `the CUDA execution provider is not installed: onnxruntime-node downloads its CUDA libraries at install time, and ${cudaLibrary} is missing (${message})`,
      hint:
        `On a machine with internet access, CUDA 12 and cuDNN 9, fetch them with \`${CUDA_INSTALL_ENV} node ${join(packageDir, 'script', 'install')}\` ` +
        `(or reinstall onnxruntime-node with ${CUDA_INSTALL_ENV}; pnpm runs its install script only with \`onnxruntime-node: true\` under allowBuilds). ` +
        `To run on the CPU instead, choose ${wording.cpuOnly}${orFallback}.`,
    };
  }
  return {
    reason: `the CUDA execution provider is installed but could not start: ${message}`,
    hint: `Check the NVIDIA driver, CUDA 12 and cuDNN 9 libraries (LD_LIBRARY_PATH) and the device id${orFallback}.`,
  };
}
