// The registry module `pnpm bench grid` hands to its workers: the CLI's (every built-in plugin), with a run
// directory that holds only the SHA-256 of the trained weights, so that two sessions can be compared byte for byte.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export { buildRegistry, versions } from '../../../apps/cli/dist/registry-module.js';

export async function writeRunDirectory(dir, outcome) {
  const hash = createHash('sha256');
  for (const weight of outcome.training.model.weights) {
    hash.update(`${weight.name} ${weight.shape.join('x')}\n`);
    hash.update(new Uint8Array(weight.data.buffer, weight.data.byteOffset, weight.data.byteLength));
  }
  await writeFile(join(dir, 'weights.sha256'), `${hash.digest('hex')}\n`);
}
