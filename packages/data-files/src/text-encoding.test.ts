// Text files must be UTF-8: other encodings are refused with the file, the line and what to do, never decoded
// into U+FFFD (which merged labels such as `café` and `cafè` into one class).
import { readFile, writeFile } from 'node:fs/promises';
import { ErrorCode } from '@hyperproto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLabelledFeatureText } from './feature-text.js';
import type { FilesOptionsInput } from './files-options.js';
import { failure, load, tempDir, writeText } from './test-support/dataset-files.js';
import { decodeTextFile, Utf8Decoder } from './text-lines.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

const SPECIES = ['setosa', 'café', 'cafè'];
/** Nine rows of three classes under the header `f0,f1,species`. */
const TABLE = `f0,f1,species\n${Array.from({ length: 9 }, (_, i) => `${i},${i + 1},${SPECIES[i % 3]}\n`).join('')}`;
const LABELS = `${Array.from({ length: 9 }, (_, i) => SPECIES[i % 3]).join('\n')}\n`;
const FEATURES = `f0,f1\n${Array.from({ length: 9 }, (_, i) => `${i},${i + 1}\n`).join('')}`;

async function bytesFile(name: string, bytes: Uint8Array): Promise<string> {
  await writeFile(tmp.path(name), bytes);
  return tmp.path(name);
}

/** The E_INVALID_INPUT that loading `options` ends in, without the plugin's prefix and the directory. */
async function refusal(options: FilesOptionsInput): Promise<string> {
  const error = await failure(load(options));
  expect(error.code, error.message).toBe(ErrorCode.InvalidInput);
  return error.message.replace(/^dataset:files: /, '').replaceAll(`${tmp.dir}/`, '');
}

/** A library caller that hands over text it decoded itself (Node's UTF-8 read, U+FFFD for what is not UTF-8). */
async function predictRefusal(path: string): Promise<string> {
  const error = await failure(parseLabelledFeatureText(await readFile(path, 'utf8'), path, 'csv'));
  expect(error.code, error.message).toBe(ErrorCode.InvalidInput);
  return error.message.replaceAll(`${tmp.dir}/`, '');
}

const utf16le = (text: string) => Buffer.from(text, 'utf16le');
const utf16be = (text: string) => utf16le(text).swap16();

describe('text that is not UTF-8', () => {
  it('refuses Latin-1 features, labels and class names, naming the line and the byte', async () => {
    // Line 3 is `1,2,café`: its é (0xE9) follows 14 + 11 bytes of lines 1 and 2 and 7 of its own.
    const latin1 = await bytesFile('x.csv', Buffer.from(TABLE, 'latin1'));
    expect(await refusal({ data: latin1, labelColumn: 'species' })).toBe(
      'x.csv is not UTF-8 text: line 3 has the byte 0xE9 (at byte offset 32), which is not valid UTF-8 there; hyperproto reads UTF-8: convert the file, e.g. from Latin-1 with iconv -f latin1 -t utf-8 x.csv > converted.csv',
    );
    expect(
      await refusal({
        data: await writeText(tmp.path('f.csv'), FEATURES),
        labels: await bytesFile('y.txt', Buffer.from(LABELS, 'latin1')),
      }),
    ).toMatch(
      /^y\.txt is not UTF-8 text: line 2 has the byte 0xE9 \(at byte offset 10\).* iconv -f latin1 -t utf-8 y\.txt > converted\.txt$/,
    );
    const names = await bytesFile('names.txt', Buffer.from('setosa\ncafé\ncafè\n', 'latin1'));
    expect(
      await refusal({
        data: await writeText(tmp.path('f.csv'), FEATURES),
        labels: await writeText(tmp.path('y.txt'), '0\n1\n2\n'.repeat(3)),
        classNames: names,
      }),
    ).toMatch(/^names\.txt is not UTF-8 text: line 2 has the byte 0xE9 \(at byte offset 10\)/);
  });

  it('keeps a U+FFFD written as UTF-8: it is a character like any other', async () => {
    const dataset = await load({ data: await writeText(tmp.path('x.csv'), TABLE.replaceAll('cafè', 'caf\uFFFD')), labelColumn: 'species' });
    expect(dataset.classNames).toEqual(['café', 'caf\uFFFD', 'setosa']);
  });

  it('reads characters split between pieces, and numbers the line and byte of one that is not UTF-8 across pieces', () => {
    const text = 'ab\ncafé\n€\n𝄞\n';
    const bytes = Buffer.from(text);
    const decoder = new Utf8Decoder('x.txt');
    let decoded = '';
    for (const byte of bytes) decoded += decoder.decode(Uint8Array.of(byte), () => decoded.split('\n').length - 1);
    expect(decoded + decoder.end(() => 4)).toBe(text);

    // 0xC3 (the start of é) at the end of one piece, then a byte that cannot follow it: the error is at 0xC3.
    const broken = new Utf8Decoder('x.txt');
    expect(broken.decode(Buffer.from('ab\ncaf\xC3', 'latin1'), () => 0)).toBe('ab\ncaf');
    expect(() => broken.decode(Buffer.from('x\n'), () => 1)).toThrow(
      'x.txt is not UTF-8 text: line 2 has the byte 0xC3 (at byte offset 6), which is not valid UTF-8 there',
    );
    // A first line without NUL bytes is no UTF-16, even when it is empty.
    expect(() => decodeTextFile(Buffer.from('\ncaf\xE9\n', 'latin1'), 'x.txt')).toThrow(
      'x.txt is not UTF-8 text: line 2 has the byte 0xE9 (at byte offset 4)',
    );
    // A file that ends inside a character.
    expect(() => decodeTextFile(Buffer.from('a\nb\n\xE2\x82', 'latin1'), 'x.txt')).toThrow(
      'x.txt is not UTF-8 text: line 3 has the byte 0xE2 (at byte offset 4)',
    );
  });

  it('finds a byte that is not UTF-8 past the first chunk of a big file', async () => {
    // 2 MiB of rows, then a Latin-1 label: the bad byte is far beyond the first 1 MiB read.
    const row = '0.123456,0.654321,setosa\n';
    const rows = Math.ceil((2 << 20) / row.length);
    const head = `f0,f1,species\n${row.repeat(rows)}`;
    const path = await bytesFile('x.csv', Buffer.concat([Buffer.from(head), Buffer.from('1,2,caf\xE9\n', 'latin1')]));
    expect(await refusal({ data: path, labelColumn: 'species' })).toMatch(
      new RegExp(`^x\\.csv is not UTF-8 text: line ${rows + 2} has the byte 0xE9 \\(at byte offset ${head.length + 7}\\)`),
    );
  });
});

describe('UTF-16 and UTF-32 text', () => {
  const hint = (name: string, from: string) => `hyperproto reads UTF-8: convert it, e.g. iconv -f ${from} -t utf-8 ${name} > converted.csv`;

  it('refuses a byte-order mark of either order, features, labels or class names', async () => {
    const bom = '\uFEFF';
    expect(await refusal({ data: await bytesFile('x.csv', utf16le(bom + TABLE)), labelColumn: 'species' })).toBe(
      `x.csv is UTF-16 text (it starts with a UTF-16LE byte-order mark); ${hint('x.csv', 'utf-16')}`,
    );
    expect(await refusal({ data: await bytesFile('x.csv', utf16be(bom + TABLE)), labelColumn: 'species' })).toBe(
      `x.csv is UTF-16 text (it starts with a UTF-16BE byte-order mark); ${hint('x.csv', 'utf-16')}`,
    );
    const utf32 = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('f\0\0\0')]);
    expect(await refusal({ data: await bytesFile('x.csv', utf32), labelColumn: 'species' })).toBe(
      `x.csv is UTF-32 text (it starts with a UTF-32LE byte-order mark); ${hint('x.csv', 'utf-32')}`,
    );
    const features = await writeText(tmp.path('f.csv'), FEATURES);
    expect(await refusal({ data: features, labels: await bytesFile('y.txt', utf16le(bom + LABELS)) })).toMatch(/^y\.txt is UTF-16 text/);
    const labels = await writeText(tmp.path('y.txt'), '0\n1\n2\n'.repeat(3));
    expect(await refusal({ data: features, labels, classNames: await bytesFile('n.txt', utf16le(`${bom}a\nb\nc\n`)) })).toMatch(
      /^n\.txt is UTF-16 text/,
    );
    expect(await refusal({ data: features, labels, classNames: await bytesFile('n.json', utf16le(`${bom}["a","b","c"]`)) })).toMatch(
      /^n\.json is UTF-16 text/,
    );
  });

  it('refuses UTF-16 without a byte-order mark by the NUL bytes of its first line, ASCII or not', async () => {
    expect(await refusal({ data: await bytesFile('x.csv', utf16le(TABLE)), labelColumn: 'species' })).toBe(
      `x.csv looks like UTF-16LE text (its first line has a NUL byte after each character); ${hint('x.csv', 'utf-16le')}`,
    );
    expect(await refusal({ data: await bytesFile('x.csv', utf16be(TABLE)), labelColumn: 'species' })).toBe(
      `x.csv looks like UTF-16BE text (its first line has a NUL byte before each character); ${hint('x.csv', 'utf-16be')}`,
    );
    // An é in the header is no valid UTF-8 either: still named as UTF-16.
    expect(await refusal({ data: await bytesFile('x.csv', utf16le(TABLE.replace('species', 'espèce'))), labelColumn: 'espèce' })).toMatch(
      /^x\.csv looks like UTF-16LE text/,
    );
  });

  it('refuses UTF-16 text that was decoded before it came (predict --input), with or without a byte-order mark', async () => {
    for (const bytes of [utf16le(`\uFEFF${TABLE}`), utf16be(`\uFEFF${TABLE}`), utf16le(TABLE)]) {
      expect(await predictRefusal(await bytesFile('x.csv', bytes))).toMatch(/^x\.csv looks like UTF-16(LE|BE) text .*iconv -f utf-16/);
    }
  });
});
