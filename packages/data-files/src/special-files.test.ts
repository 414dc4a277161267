import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { failure, load, tempDir, writeNpy, writeText } from './test-support/dataset-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const GOOD_CSV = 'a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n';
const GOOD_LABELS = 'x\ny\nx\ny\nx\ny\n';
const GIVE = 'give the path of a .npy, .csv, .jsonl or text file';

// Messages start with `dataset:files: `: the plugin call names the plugin in front of what it throws.
describe('pipes and devices: E_IO at once, never a hang or an endless read', () => {
  it('a named pipe as the data file', async () => {
    const fifo = tmp.path('x.csv');
    execFileSync('mkfifo', [fifo]);
    const started = performance.now();
    const error = await failure(load({ data: fifo, labels: await writeText(tmp.path('y.txt'), GOOD_LABELS) }));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: `dataset:files: cannot read ${fifo}: it is a named pipe (FIFO), not a regular file; ${GIVE}`,
      hint: 'Pipes and devices cannot be read as input: save the data to a file and give its path.',
    });
  });

  it('a symlink to /dev/zero as the labels, and as the test data', async () => {
    const zero = tmp.path('y.npy');
    await symlink('/dev/zero', zero);
    const data = await writeText(tmp.path('x.csv'), GOOD_CSV);
    const labels = await failure(load({ data, labels: zero }));
    expect(labels).toMatchObject({
      code: ErrorCode.Io,
      message: `dataset:files: cannot read ${zero}: it is a character device, not a regular file; ${GIVE}`,
    });
    const test = await failure(
      load({ data, labels: await writeText(tmp.path('y.txt'), GOOD_LABELS), testData: zero, testLabels: tmp.path('y.txt') }),
    );
    expect(test.message).toBe(`dataset:files: cannot read ${zero}: it is a character device, not a regular file; ${GIVE}`);
  });

  it('a named pipe as the class names file', async () => {
    const fifo = tmp.path('names.txt');
    execFileSync('mkfifo', [fifo]);
    const error = await failure(
      load({
        data: await writeText(tmp.path('x.csv'), GOOD_CSV),
        labels: await writeText(tmp.path('y.txt'), GOOD_LABELS),
        classNames: fifo,
      }),
    );
    expect(error).toMatchObject({
      code: ErrorCode.Io,
      message: `dataset:files: cannot read ${fifo}: it is a named pipe (FIFO), not a regular file; give a .json file or a text file with one class name per line`,
    });
  });

  it('reads a symlink to a regular file', async () => {
    const data = await writeNpy(tmp.path('x.npy'), '<f4', [6, 1], [1, 2, 3, 4, 5, 6]);
    await symlink(data, tmp.path('link.npy'));
    const dataset = await load({ data: tmp.path('link.npy'), labels: await writeText(tmp.path('y.txt'), GOOD_LABELS) });
    expect(dataset.inputWidth).toBe(1);
  });
});

describe('a data .npy that is not one', () => {
  it('is named as the data file, with no word of prototypes', async () => {
    const data = tmp.path('x.npy');
    await writeFile(data, 'a,b\n1,2\n');
    const error = await failure(load({ data, labels: await writeText(tmp.path('y.txt'), GOOD_LABELS) }));
    expect(error).toMatchObject({
      code: ErrorCode.InvalidInput,
      message: `dataset:files: ${data} is not a .npy file: it does not start with "\\x93NUMPY"`,
      hint: 'Save the array with np.save(path, array) (for a torch tensor, np.save(path, tensor.numpy())).',
    });
  });
});
