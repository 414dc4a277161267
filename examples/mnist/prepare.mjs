// Writes the digits the `mnist` package ships (about 10,000 images of 28 x 28 pixels, in [0, 1]) as
// digits.npy (float32 [N, 784]) and digits.txt (one label per line: zero ... nine), for the `files` dataset.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const mnist = createRequire(import.meta.url)('mnist');
const NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const digits = Array.from({ length: 10 }, (_, d) => mnist[d]);
const rows = digits.flatMap((digit, label) => Array.from({ length: digit.length }, (_, i) => ({ label, pixels: digit.get(i) })));

const width = 784;
const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${width}), }`;
const padded = `${header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1, ' ')}\n`;
const prefix = Buffer.alloc(10);
prefix.write('\x93NUMPY', 0, 'latin1');
prefix.writeUInt8(1, 6);
prefix.writeUInt8(0, 7);
prefix.writeUInt16LE(padded.length, 8);
const data = new Float32Array(rows.length * width);
rows.forEach(({ pixels }, r) => data.set(pixels, r * width));
writeFileSync('digits.npy', Buffer.concat([prefix, Buffer.from(padded, 'latin1'), Buffer.from(data.buffer)]));
writeFileSync('digits.txt', `${rows.map(({ label }) => NAMES[label]).join('\n')}\n`);
console.log(`wrote digits.npy [${rows.length}, ${width}] and digits.txt (${digits.map((d) => d.length).join(' / ')} per digit)`);
