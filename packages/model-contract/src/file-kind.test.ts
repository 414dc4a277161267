import { describe, expect, it } from 'vitest';
import { describeFileKind, type FileKindInfo } from './index.js';

/** A stat that answers true to `kind` alone, as a file of that kind has; undefined answers false to all. */
function statOf(kind?: keyof FileKindInfo): FileKindInfo {
  const answer = (method: keyof FileKindInfo) => () => method === kind;
  return {
    isFile: answer('isFile'),
    isDirectory: answer('isDirectory'),
    isFIFO: answer('isFIFO'),
    isCharacterDevice: answer('isCharacterDevice'),
    isBlockDevice: answer('isBlockDevice'),
    isSocket: answer('isSocket'),
  };
}

describe('describeFileKind', () => {
  it.each([
    ['isFile', 'a regular file'],
    ['isDirectory', 'a directory'],
    ['isFIFO', 'a named pipe (FIFO)'],
    ['isCharacterDevice', 'a character device'],
    ['isBlockDevice', 'a block device'],
    ['isSocket', 'a socket'],
  ] as const)('names what %s says', (kind, words) => {
    expect(describeFileKind(statOf(kind))).toBe(words);
  });

  it('names a kind no method admits (a Solaris door, say) a special file', () => {
    expect(describeFileKind(statOf())).toBe('a special file');
  });
});
