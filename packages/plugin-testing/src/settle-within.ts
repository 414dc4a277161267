export type Settled<T> =
  | { readonly status: 'fulfilled'; readonly value: T }
  | { readonly status: 'rejected'; readonly reason: unknown }
  | { readonly status: 'timeout' };

/**
 * Runs `fn` and waits at most `ms` for it. A plugin that blocks the event loop cannot be interrupted, so a call that
 * returns only after the limit counts as a timeout too: either way a check reports a hang instead of becoming one.
 */
export async function settleWithin<T>(fn: () => T | Promise<T>, ms: number): Promise<Settled<T>> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'timeout' }), ms);
    // In Node, a pending check must not keep the process alive on its own.
    (timer as { unref?: () => void }).unref?.();
  });
  const work = (async (): Promise<Settled<T>> => {
    try {
      return { status: 'fulfilled', value: await fn() };
    } catch (reason) {
      return { status: 'rejected', reason };
    }
  })();
  try {
    const settled = await Promise.race([work, timeout]);
    return Date.now() - started > ms ? { status: 'timeout' } : settled;
  } finally {
    clearTimeout(timer);
  }
}
