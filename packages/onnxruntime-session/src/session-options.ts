import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';

// One home for how hyperproto opens onnxruntime-node sessions: the training engine, the similarity scans and the
// spread strategy each depend on this package alone for it (it depends on nothing of ours), so the arrows stay as
// they were; @hyperproto/runtime-node keeps onnxruntime's own defaults for deployments and shares only the
// library location below.

export interface ComputeSessionOptions {
  /** Intra-op threads: the caller's thread budget (PluginContext.threads); every core the process may use when absent. */
  readonly threads?: number;
  /** Execution providers in order of preference; `['cpu']` by default. */
  readonly providers?: readonly ort.InferenceSession.ExecutionProviderConfig[];
  /**
   * Whether idle pool threads spin waiting for work within a run; they stop when the run ends
   * (`force_spinning_stop`), so that the caller's JavaScript between runs keeps the cores. Off by default: on
   * oversubscribed cores spinning threads take the cores from the work they wait for (1.5-1.7x per training step at a
   * load of 6 on two cores). On idle cores it saves waking a sleeping thread for each operator (tens of
   * microseconds on a virtual machine; a quarter to a third of a training step of ~150 small operators on two).
   */
  readonly spinning?: boolean;
  /** No messages from onnxruntime at all: for a session whose failure is an expected answer (a provider probe). */
  readonly silent?: boolean;
  /**
   * Profile every node of every run into `<prefix>_<date>.json` (onnxruntime's trace format), written when the
   * session's `endProfiling()` is called. For benchmarks: profiling adds tens of microseconds per node.
   */
  readonly profileFilePrefix?: string;
}

/** The session options of every compute session hyperproto opens. */
export function computeSessionOptions(options: ComputeSessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [...(options.providers ?? ['cpu'])],
    // The cores this process may use (its CPU affinity, or the budget it was handed), where onnxruntime would count
    // the machine's physical cores.
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' }, force_spinning_stop: '1' } },
    // Errors only: onnxruntime warns about every unused initializer and copy it plans.
    logSeverityLevel: options.silent ? 4 : 3,
    ...(options.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: options.profileFilePrefix } : {}),
  };
}

/** An onnxruntime-node session of `model` (ONNX bytes) with {@link computeSessionOptions}. */
export function openComputeSession(model: Uint8Array, options: ComputeSessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, computeSessionOptions(options));
}
