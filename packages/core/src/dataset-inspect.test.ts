import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { callPlugin } from './plugin-call.js';
import { defineDataset } from './plugins.js';

// A dataset whose class count only its data can say: `inspect` reads it, as the files dataset reads its labels.
const counted = (inspect?: (options: { classes: number }) => Promise<unknown>) =>
  defineDataset({
    name: 'counted',
    summary: 'test dataset',
    options: z.strictObject({ classes: z.number().int() }),
    ...(inspect ? { inspect: inspect as never } : {}),
    generate: () => {
      throw new Error('not generated in these tests');
    },
  });

describe("a dataset's inspect at the boundary", () => {
  it('gets its options validated and resolves to what it read, directly and through callPlugin', async () => {
    const plugin = counted(async ({ classes }) => ({ classes, inputWidth: 3 }));
    await expect(plugin.inspect!({ classes: 40 })).resolves.toEqual({ classes: 40, inputWidth: 3 });
    await expect(callPlugin(plugin, 'inspect', { classes: 5 })).resolves.toEqual({ classes: 5, inputWidth: 3 });
    await expect(callPlugin(plugin, 'inspect', { classes: 'many' } as never)).rejects.toMatchObject({
      code: ErrorCode.InvalidOptions,
      message: expect.stringMatching(/^dataset:counted classes: /),
    });
  });

  it('answers undefined when the dataset has no inspect', () => {
    expect(callPlugin(counted(), 'inspect', { classes: 3 })).toBeUndefined();
  });

  it('tags what inspect rejects with, and refuses an answer that is not sizes (E_INVALID_PLUGIN)', async () => {
    await expect(
      callPlugin(
        counted(async () => {
          throw new Error('cannot read');
        }),
        'inspect',
        { classes: 3 },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.PluginFailed, message: 'dataset:counted failed: cannot read' });
    for (const [answer, message] of [
      [null, /^dataset:counted: inspect returned null; expected an object/],
      [{ classes: 1 }, /inspect returned classes 1; expected an integer >= 2 or no classes/],
      [{ classes: 3.5 }, /inspect returned classes 3.5/],
    ] as const) {
      await expect(
        callPlugin(
          counted(async () => answer),
          'inspect',
          { classes: 3 },
        ),
      ).rejects.toMatchObject({
        code: ErrorCode.InvalidPlugin,
        pluginId: 'dataset:counted',
        message: expect.stringMatching(message),
        hint: 'inspect(options) must resolve to { classes?, trainRows?, inputWidth? } (integers; classes >= 2).',
      });
    }
  });
});
