import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '@hyperproto/onnx-graph';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { computeSessionOptions, cudaProviderInstalled, onnxruntimeNodeLocation, openComputeSession } from './index.js';

function reluModel(): Uint8Array {
  const g = new GraphBuilder('relu');
  g.output(g.node('Relu', [g.input('x', 'float32', [3])], {}, { outputs: ['y'] }), 'float32', [3]);
  return g.toModel();
}

describe('openComputeSession', () => {
  it('opens a session that runs, on the CPU with the thread budget it is handed', async () => {
    const session = await openComputeSession(reluModel(), { threads: 1 });
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 0, 2), [3]) });
      expect([...(out.y!.data as Float32Array)]).toEqual([0, 0, 2]);
    } finally {
      await session.release();
    }
  });

  it('uses the budget, else every core the process may use; sleeping pool threads unless asked to spin, and never past a run', () => {
    expect(computeSessionOptions({ threads: 3 })).toMatchObject({ intraOpNumThreads: 3, executionProviders: ['cpu'] });
    expect(computeSessionOptions()).toMatchObject({
      intraOpNumThreads: availableParallelism(),
      extra: { session: { intra_op: { allow_spinning: '0' }, force_spinning_stop: '1' } },
    });
    expect(computeSessionOptions({ spinning: true, providers: ['cuda', 'cpu'] })).toMatchObject({
      executionProviders: ['cuda', 'cpu'],
      extra: { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } },
    });
  });

  it.skipIf(!existsSync('/proc/self/task'))('starts a pool of the threads it is handed (Linux: threads counted in /proc)', async () => {
    const threadsWithSession = async (threads: number) => {
      const session = await openComputeSession(reluModel(), { threads });
      try {
        return readdirSync('/proc/self/task').length;
      } finally {
        await session.release();
      }
    };
    const wide = await threadsWithSession(5);
    const narrow = await threadsWithSession(1);
    expect(wide - narrow).toBe(4);
  });

  it('profiles every node into <prefix>_<date>.json when asked, and nothing otherwise', async () => {
    expect(computeSessionOptions()).not.toHaveProperty('enableProfiling');
    const directory = mkdtempSync(join(tmpdir(), 'profile-test-'));
    try {
      const session = await openComputeSession(reluModel(), { threads: 1, profileFilePrefix: join(directory, 'relu') });
      await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 0, 2), [3]) });
      session.endProfiling();
      await session.release();
      const files = readdirSync(directory);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^relu_.*\.json$/);
      const events = JSON.parse(readFileSync(join(directory, files[0]!), 'utf8')) as { cat: string; args?: { op_name?: string } }[];
      expect(events.some((e) => e.cat === 'Node' && e.args?.op_name === 'Relu')).toBe(true);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses a thread count onnxruntime cannot take, with its own message', async () => {
    await expect(openComputeSession(reluModel(), { threads: -2 })).rejects.toThrow(/intraOpNumThreads/);
  });
});

describe('onnxruntimeNodeLocation', () => {
  it("finds onnxruntime-node's native libraries for this platform, and says whether the CUDA provider is there", () => {
    const { binaryDir, cudaLibrary } = onnxruntimeNodeLocation();
    expect(readdirSync(binaryDir).some((file) => /onnxruntime_binding\.node$/.test(file))).toBe(true);
    expect(cudaProviderInstalled()).toBe(existsSync(cudaLibrary));
  });
});
