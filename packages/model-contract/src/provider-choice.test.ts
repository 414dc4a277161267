import { describe, expect, it } from 'vitest';
import { checkProviderList, startOnFirstProvider, type ProviderOutcome } from './index.js';

type Provider = 'gpu' | 'cpu' | 'npu';
const KNOWN: readonly Provider[] = ['gpu', 'cpu', 'npu'];

/** A start function where the providers in `failing` cannot start; records the order they were tried in. */
function starter(failing: Partial<Record<Provider, { reason: string; hint?: string }>>) {
  const tried: Provider[] = [];
  const start = async (provider: Provider): Promise<ProviderOutcome<string>> => {
    tried.push(provider);
    const failure = failing[provider];
    return failure ? { ok: false, ...failure, cause: new Error(failure.reason) } : { ok: true, value: `session on ${provider}` };
  };
  return { tried, start };
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  const error = (await promise.catch((e: unknown) => e)) as { name: string; code: string; message: string; hint?: string };
  expect(error.name).toBe('HyperprotoError');
  return { code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) };
}

describe('startOnFirstProvider', () => {
  it('runs on the first provider that starts, trying no other', async () => {
    const { tried, start } = starter({});
    expect(await startOnFirstProvider<Provider, string>(['gpu', 'cpu'], { fallback: false, source: 'm.onnx' }, start)).toEqual({
      value: 'session on gpu',
      provider: 'gpu',
      skipped: [],
    });
    expect(tried).toEqual(['gpu']);
  });

  it('without fallback, the first failure is the answer, with how to allow the fallback', async () => {
    const { tried, start } = starter({ gpu: { reason: 'no adapter' } });
    expect(await failure(startOnFirstProvider<Provider, string>(['gpu', 'cpu'], { fallback: false, source: 'm.onnx' }, start))).toEqual({
      code: 'E_NO_ENGINE',
      message: 'no execution provider could start for m.onnx: [gpu] no adapter',
      hint: 'To run on cpu when gpu cannot start, allow the fallback (fallback: true).',
    });
    expect(tried).toEqual(['gpu']);
  });

  it('with fallback, passes over failures in order, reports each with why, and logs each', async () => {
    const { tried, start } = starter({ gpu: { reason: 'no adapter', hint: 'install a driver' }, npu: { reason: 'not built in' } });
    const log: string[] = [];
    const choice = await startOnFirstProvider<Provider, string>(
      ['gpu', 'npu', 'cpu'],
      { fallback: true, source: 'm.onnx', log: (m) => log.push(m) },
      start,
    );
    expect(choice).toEqual({
      value: 'session on cpu',
      provider: 'cpu',
      skipped: [
        { provider: 'gpu', reason: 'no adapter', hint: 'install a driver' },
        { provider: 'npu', reason: 'not built in' },
      ],
    });
    expect(tried).toEqual(['gpu', 'npu', 'cpu']);
    expect(log).toEqual([
      'gpu execution provider unavailable: no adapter; falling back to npu as allowed',
      'npu execution provider unavailable: not built in; falling back to cpu as allowed',
    ]);
  });

  it('with fallback, lists every provider when none starts, with the last hint', async () => {
    const { start } = starter({
      gpu: { reason: 'no adapter', hint: 'install a driver' },
      cpu: { reason: 'out of memory', hint: 'close something' },
    });
    expect(await failure(startOnFirstProvider<Provider, string>(['gpu', 'cpu'], { fallback: true, source: 'the model' }, start))).toEqual({
      code: 'E_NO_ENGINE',
      message: 'no execution provider could start for the model: [gpu] no adapter; [cpu] out of memory',
      hint: 'close something',
    });
    // The last provider's failure has no hint and nothing follows it: no hint.
    expect(
      await failure(
        startOnFirstProvider<Provider, string>(['npu'], { fallback: true, source: 'x' }, starter({ npu: { reason: 'absent' } }).start),
      ),
    ).toEqual({
      code: 'E_NO_ENGINE',
      message: 'no execution provider could start for x: [npu] absent',
    });
  });

  it('throws what start throws (a problem of the model) at once, without trying the next provider', async () => {
    const tried: Provider[] = [];
    const broken = Object.assign(new Error('not a classifier'), { code: 'E_INVALID_INPUT' });
    const start = async (provider: Provider): Promise<ProviderOutcome<string>> => {
      tried.push(provider);
      throw broken;
    };
    await expect(startOnFirstProvider<Provider, string>(['gpu', 'cpu'], { fallback: true, source: 'm' }, start)).rejects.toBe(broken);
    expect(tried).toEqual(['gpu']);
  });
});

describe('checkProviderList', () => {
  it('accepts known providers in any order and refuses an empty list, unknown and repeated names', async () => {
    expect(checkProviderList(['cpu', 'gpu'], KNOWN)).toEqual(['cpu', 'gpu']);
    const refused = (list: string[]) => failure((async () => checkProviderList(list, KNOWN))());
    expect(await refused([])).toEqual({ code: 'E_INVALID_OPTIONS', message: 'name at least one execution provider (gpu, cpu, npu)' });
    expect(await refused(['cpu', 'tpu'])).toEqual({
      code: 'E_INVALID_OPTIONS',
      message: 'unknown execution provider "tpu"; choose from gpu, cpu, npu',
    });
    expect(await refused(['cpu', 'gpu', 'cpu'])).toEqual({
      code: 'E_INVALID_OPTIONS',
      message: 'execution provider listed twice: cpu, gpu, cpu',
    });
  });
});
