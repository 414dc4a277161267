import { rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Removes `dir` and its parents up to `created` (what `mkdir(dir, { recursive: true })` returned), deepest first, each
 * only while it is empty: a refusal leaves no directory it made, and never anything someone else wrote.
 */
export async function removeCreatedDirectories(dir: string, created: string): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    await rmdir(d).catch(() => {});
    if (d === created || dirname(d) === d) break;
  }
}
