import { createMatrix, createRng, ErrorCode } from '@hyperproto/core';
import { describe, expect, it } from 'vitest';
import { encodeNpy, fortranToRowMajor, NPY_PREAMBLE_BYTES, npyDataOffset, npyHeader, parseNpy, parseNpyHeader } from './npy-format.js';
import { NPY_MAGIC, npyFile } from './test-support/hand-made-npy.js';

function floats(values: number[], type: 'f4' | 'f8', littleEndian = true): Uint8Array {
  const size = type === 'f4' ? 4 : 8;
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((value, i) =>
    type === 'f4' ? view.setFloat32(i * size, value, littleEndian) : view.setFloat64(i * size, value, littleEndian),
  );
  return out;
}

function headerFor(descr: string, shape: string, fortran = false): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }\n`;
}

function parseError(bytes: Uint8Array): { code: string; message: string } {
  try {
    parseNpy(bytes, 'prototypes.npy');
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected parseNpy to fail');
}

describe('encodeNpy', () => {
  it("writes exactly what numpy's np.save writes for np.arange(6, dtype='<f4').reshape(2, 3)", () => {
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    // Padded with spaces and a final newline so that the data starts at 10 + 118 = 128, a multiple of 64.
    const header = `${dict + ' '.repeat(118 - dict.length - 1)}\n`;
    const expected = Buffer.concat([
      Buffer.from(NPY_MAGIC, 'latin1'),
      Buffer.from([1, 0, 118, 0]),
      Buffer.from(header, 'latin1'),
      Buffer.from(floats([0, 1, 2, 3, 4, 5], 'f4')),
    ]);
    const encoded = encodeNpy(createMatrix(2, 3, Float32Array.from([0, 1, 2, 3, 4, 5])));
    expect(Buffer.from(encoded).equals(expected)).toBe(true);
    // The same file as numpy 2.4 writes it, byte for byte.
    const fromNumpy =
      '934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d' +
      '20'.repeat(58) +
      '0a000000000000803f0000004000004040000080400000a040';
    expect(Buffer.from(encoded).toString('hex')).toBe(fromNumpy);
  });

  it("matches numpy's header for shapes whose padding differs", () => {
    // From numpy.lib.format.write_array_header_1_0: the shape (R, C) header plus 21 - len(str(R)) growth spaces,
    // then padding to the next multiple of 64. A 12-digit row count still fits in 128 bytes.
    for (const [rows, cols] of [
      [0, 0],
      [1000, 100],
      [123456789012, 7],
      [3, 1234567890],
    ] as const) {
      const header = npyHeader([rows, cols]);
      expect((10 + header.length) % 64, `${rows} x ${cols}`).toBe(0);
      expect(header.endsWith('\n')).toBe(true);
      expect(header.startsWith(`{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`)).toBe(true);
      expect(header.length).toBe(118);
    }
    expect(npyHeader([5])).toContain("'shape': (5,), }");
    expect(npyHeader([])).toContain("'shape': (), }");
  });

  it('round-trips random matrices bit for bit, including -0, infinities, NaN and subnormals', () => {
    const rng = createRng(17);
    for (let trial = 0; trial < 30; trial++) {
      const rows = rng.int(9);
      const cols = rng.int(9);
      const data = rng.fillNormal(new Float32Array(rows * cols), 0, 10 ** (rng.int(10) - 5));
      const specials = [-0, Infinity, -Infinity, NaN, 1e-45, 3.4e38];
      for (let i = 0; i < data.length && i < specials.length; i++) if (rng.float() < 0.5) data[rng.int(data.length)] = specials[i]!;
      const encoded = encodeNpy(createMatrix(rows, cols, data));
      const headerLength = encoded[8]! + 256 * encoded[9]!;
      expect((10 + headerLength) % 64).toBe(0);
      const parsed = parseNpy(encoded);
      expect(parsed.shape).toEqual([rows, cols]);
      expect(parsed.dtype).toBe('<f4');
      expect(Buffer.from(parsed.data.buffer).equals(Buffer.from(data.buffer))).toBe(true);
    }
  });

  it('encodes a subarray view without its neighbours', () => {
    const backing = Float32Array.from([9, 1, 2, 3, 4, 9]);
    const parsed = parseNpy(encodeNpy(createMatrix(2, 2, backing.subarray(1, 5))));
    expect(Array.from(parsed.data)).toEqual([1, 2, 3, 4]);
  });

  it('rejects a matrix whose data does not match its shape', () => {
    expect(() => encodeNpy({ rows: 2, cols: 2, data: new Float32Array(3) })).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidInput, message: expect.stringMatching(/2 x 2 matrix holding 3 values/) }),
    );
  });
});

describe('parseNpy', () => {
  const values = [0.5, -1.25, 3, 1e-3, 2.5e10, -0];

  it.each([[[2, 0]], [[3, 0]]] as const)('reads format version %j (4-byte header length)', (version) => {
    const file = npyFile(headerFor('<f4', '(2, 3)'), floats(values, 'f4'), [...version]);
    const parsed = parseNpy(file);
    expect(parsed.version).toBe(`${version[0]}.0`);
    expect(parsed.shape).toEqual([2, 3]);
    expect(Array.from(parsed.data)).toEqual(values.map(Math.fround));
  });

  it('reads a UTF-8 header in format 3.0', () => {
    // Format 3.0 exists for non-latin1 field names; the header text is UTF-8 (a 2-byte character here).
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), 'note': 'é', }\n";
    expect(Array.from(parseNpy(npyFile(header, floats([7], 'f4'), [3, 0])).data)).toEqual([7]);
  });

  it("converts '<f8' to float32", () => {
    const parsed = parseNpy(npyFile(headerFor('<f8', '(3, 2)'), floats([0.1, 1 / 3, -2, -Infinity, 5, 6], 'f8')));
    expect(parsed.dtype).toBe('<f8');
    expect(parsed.shape).toEqual([3, 2]);
    // An infinity written in the file stays one, for the caller's own check to name.
    expect(Array.from(parsed.data)).toEqual([Math.fround(0.1), Math.fround(1 / 3), -2, -Infinity, 5, 6]);
  });

  it('refuses a finite float64 beyond the float32 range instead of turning it into an infinity', () => {
    const bytes = npyFile(headerFor('<f8', '(3, 2)'), floats([0.1, 1 / 3, -2, 1e300, 5, 6], 'f8'));
    expect(() => parseNpy(bytes, 'big.npy')).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidInput,
        message: "big.npy: 1e+300 (value 4 in the file's order) does not fit a float32 (largest magnitude about 3.4e38)",
      }),
    );
  });

  it.each(['>f4', '>f8'] as const)('converts big-endian %s', (descr) => {
    const type = descr.endsWith('4') ? 'f4' : 'f8';
    const parsed = parseNpy(npyFile(headerFor(descr, '(2, 3)'), floats(values, type, false)));
    expect(Array.from(parsed.data)).toEqual(values.map(Math.fround));
  });

  it('reorders a Fortran-order file written by numpy into rows', () => {
    // np.save of np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype='<f8') / 8): the data is stored column
    // by column (0.125, 0.5, 0.25, 0.625, 0.375, 0.75).
    const hex =
      '934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d' +
      '20'.repeat(59) +
      '0a000000000000c03f000000000000e03f000000000000d03f000000000000e43f000000000000d83f000000000000e83f';
    const parsed = parseNpy(Buffer.from(hex, 'hex'));
    expect(parsed.fortranOrder).toBe(true);
    expect(parsed.shape).toEqual([2, 3]);
    expect(Array.from(parsed.data)).toEqual([0.125, 0.25, 0.375, 0.5, 0.625, 0.75]);
  });

  it('reorders a 3-D Fortran-order array', () => {
    // Element [i, j, k] of a (2, 3, 4) array sits at i + 2 j + 6 k in Fortran order; give it the value 100 i + 10 j + k.
    const shape = [2, 3, 4];
    const stored = new Array<number>(24);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) stored[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
    const parsed = parseNpy(npyFile(headerFor('<f4', '(2, 3, 4)', true), floats(stored, 'f4')));
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) expected.push(100 * i + 10 * j + k);
    expect(parsed.shape).toEqual(shape);
    expect(Array.from(parsed.data)).toEqual(expected);
  });

  it('treats Fortran order as the transpose for random 2-D shapes', () => {
    const rng = createRng(4);
    for (let trial = 0; trial < 20; trial++) {
      const rows = 1 + rng.int(7);
      const cols = 1 + rng.int(7);
      const columnMajor = rng.fillNormal(new Float32Array(rows * cols));
      const rowMajor = fortranToRowMajor(columnMajor, [rows, cols]);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expect(rowMajor[i * cols + j]).toBe(columnMajor[j * rows + i]);
    }
  });

  it('accepts header spellings that Python literal syntax allows', () => {
    for (const header of [
      '{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}',
      "{'shape': (2,3), 'fortran_order': False, 'descr': '<f4'}   \n",
      "{'descr':'<f4','fortran_order':False,'shape':(2L, 3L),}",
      "{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }\n",
    ]) {
      expect(parseNpy(npyFile(header, floats(values, 'f4'))).shape, header).toEqual([2, 3]);
    }
  });

  it('reads 1-D and scalar arrays (shape checks are up to the caller)', () => {
    expect(parseNpy(npyFile(headerFor('<f4', '(3,)'), floats([1, 2, 3], 'f4'))).shape).toEqual([3]);
    const scalar = parseNpy(npyFile(headerFor('<f4', '()'), floats([4.5], 'f4')));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data)).toEqual([4.5]);
  });

  it.each([
    ['<i8', "dtype '<i8' is not supported; expected float32 ('<f4')"],
    ['<f2', "dtype '<f2' is not supported"],
    ['|O', "dtype '|O' is not supported"],
    ['<c8', "dtype '<c8' is not supported"],
  ])('rejects dtype %s naming the file', (descr, message) => {
    const error = parseError(npyFile(headerFor(descr, '(2, 3)'), new Uint8Array(48)));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toContain(`prototypes.npy: ${message}`);
  });

  it('rejects a structured dtype', () => {
    const header = "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,), }";
    expect(parseError(npyFile(header, new Uint8Array(8))).message).toBe(
      "prototypes.npy: structured dtype [('x', '<f4')] is not supported; expected float32 ('<f4')",
    );
  });

  it('says how much data is missing from a truncated file', () => {
    const file = npyFile(headerFor('<f4', '(1000, 100)'), new Uint8Array(1234));
    const error = parseError(file);
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toBe(
      'prototypes.npy is truncated: its header declares a float32 array of shape (1000, 100), which takes 400075 bytes (75 header + 400000 data), but the file has 1309 bytes',
    );
  });

  it('rejects a file cut inside its header', () => {
    const file = encodeNpy(createMatrix(1, 1, Float32Array.from([1])));
    expect(parseError(file.subarray(0, 50)).message).toMatch(/prototypes\.npy is truncated: the header promises 118 bytes, found 40/);
    expect(parseError(file.subarray(0, 9)).message).toMatch(/truncated/);
  });

  it('rejects bytes after the data', () => {
    const file = npyFile(headerFor('<f4', '(2, 3)'), floats([...values, 1], 'f4'));
    expect(parseError(file).message).toMatch(
      /^prototypes\.npy is longer than its header declares: a float32 array of shape \(2, 3\), which takes 94 bytes \(70 header \+ 24 data\), but the file has 98 bytes \(4 extra\)$/,
    );
  });

  it('refuses a header length no array needs before reading the header', () => {
    const preamble = Buffer.from('\x93NUMPY\x02\x00\x00\x00\x00\x40', 'latin1');
    expect(() => npyDataOffset(preamble, 'x.npy')).toThrowError(
      "x.npy declares a header of 1073741824 bytes; a plain array's header is a few hundred, so the file is corrupt",
    );
    expect(npyDataOffset(encodeNpy(createMatrix(1, 1, Float32Array.from([1]))).subarray(0, NPY_PREAMBLE_BYTES))).toBe(128);
  });

  it('rejects files that are not .npy', () => {
    expect(parseError(Buffer.from('hello, world')).message).toMatch(/prototypes\.npy is not a \.npy file/);
    expect(parseError(new Uint8Array(0)).message).toMatch(/is not a \.npy file/);
    expect(parseError(Buffer.from('PK\x03\x04 rest of a zip', 'latin1')).message).toMatch(/zip archive \(\.npz\)/);
    const future = npyFile(headerFor('<f4', '(1,)'), floats([1], 'f4'), [4, 0]);
    expect(parseError(future).message).toMatch(/format version 4\.0; supported versions are 1\.0, 2\.0 and 3\.0/);
  });

  it.each([
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", /malformed header/],
    ["{'descr': '<f4', 'fortran_order': False}", /no 'shape' entry/],
    ["{'descr': '<f4', 'shape': (2, 3)}", /no 'fortran_order' entry/],
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", /fortran_order 0, expected True or False/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", /shape \[2, 3\], expected a tuple/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", /expected a tuple of non-negative integers/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} junk", /malformed header \(unexpected text after the value/],
    ["['descr', '<f4']", /expected a dict/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': float('nan')}", /malformed header/],
  ])('rejects the header %s', (header, message) => {
    const error = parseError(npyFile(header, new Uint8Array(24)));
    expect(error.code).toBe(ErrorCode.InvalidInput);
    expect(error.message).toMatch(/^prototypes\.npy/);
    expect(error.message).toMatch(message);
  });
});

describe('parseNpyHeader', () => {
  it('reads the header from the first bytes alone, any dtype, and says where the data starts', () => {
    const file = npyFile(headerFor('<i8', '(4,)'), new Uint8Array(32));
    const headerOnly = file.subarray(0, file.length - 32);
    expect(parseNpyHeader(headerOnly, 'labels.npy')).toEqual({
      version: '1.0',
      dtype: '<i8',
      shape: [4],
      fortranOrder: false,
      dataOffset: headerOnly.length,
    });
    expect(parseNpyHeader(npyFile(headerFor('>f8', '(2, 3)', true), new Uint8Array(0), [2, 0]))).toMatchObject({
      version: '2.0',
      dtype: '>f8',
      fortranOrder: true,
      shape: [2, 3],
    });
  });

  it('refuses what parseNpy refuses about the header, with the same messages', () => {
    expect(() => parseNpyHeader(Buffer.from('hello'), 'x.npy')).toThrowError(/x\.npy is not a \.npy file/);
    expect(() => parseNpyHeader(encodeNpy(createMatrix(1, 1, Float32Array.from([1]))).subarray(0, 50), 'x.npy')).toThrowError(
      /x\.npy is truncated: the header promises 118 bytes, found 40/,
    );
  });
});
