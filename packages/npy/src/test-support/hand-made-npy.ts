/** The six bytes every .npy file starts with, as a latin1 string. */
export const NPY_MAGIC = '\x93NUMPY';

/**
 * A .npy file put together by hand, not by the code under test: magic, version, header length (2 bytes in
 * version 1, 4 after), the header (UTF-8 in version 3, latin1 before), then `data`.
 */
export function npyFile(header: string, data: Uint8Array, version: readonly [number, number] = [1, 0]): Uint8Array {
  const headerBytes = Buffer.from(header, version[0] === 3 ? 'utf8' : 'latin1');
  const lengthBytes = version[0] === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lengthBytes + headerBytes.length + data.length);
  out.set(Buffer.from(NPY_MAGIC, 'latin1'), 0);
  out[6] = version[0];
  out[7] = version[1];
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(8, headerBytes.length, true);
  else view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 8 + lengthBytes);
  out.set(data, 8 + lengthBytes + headerBytes.length);
  return out;
}
