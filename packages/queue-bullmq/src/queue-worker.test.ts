import { describe, expect, it } from 'vitest';
import { misplacedModel } from './queue-worker.js';

const order = (dir: string, target: string) => ({
  key: 'c10/softmax/s2',
  dataset: 'c10',
  model: 'softmax',
  seed: 2,
  spec: {} as never,
  save: { dir, target },
});

describe('misplacedModel', () => {
  it("accepts the placement a coordinator makes under its results directory's models/", () => {
    expect(
      misplacedModel(order('/results/seed/models/c10/softmax/.s2.partial-4242', '/results/seed/models/c10/softmax/s2')),
    ).toBeUndefined();
  });

  it.each([
    ['outside a models directory of the run', '/home/me/.ssh/.s2.partial-1', '/home/me/.ssh/s2'],
    ['another cell', '/results/models/c10/hpn/.s2.partial-1', '/results/models/c10/hpn/s2'],
    ['another seed', '/results/models/c10/softmax/.s3.partial-1', '/results/models/c10/softmax/s3'],
    ['a relative path', 'models/c10/softmax/.s2.partial-1', 'models/c10/softmax/s2'],
    ['a target elsewhere', '/results/models/c10/softmax/.s2.partial-1', '/etc/s2'],
  ])('refuses a job that names %s', (_, dir, target) => {
    expect(misplacedModel(order(dir, target))).toMatch(
      /^refused to write the model of c10\/softmax\/s2 to .*: not a models directory of this run$/,
    );
  });
});
