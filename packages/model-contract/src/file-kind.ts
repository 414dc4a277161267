/**
 * What a file's stat says it is: Node.js's `fs.Stats` has these methods. Declared here so that the package needs no
 * Node.js types and still runs in browsers.
 */
export interface FileKindInfo {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}

/**
 * What a path is, in words for a message that refuses anything but a regular file, e.g. `a named pipe (FIFO)`:
 * the one wording of model files and of every input file.
 */
export function describeFileKind(info: FileKindInfo): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'a special file';
}
