import { createRng } from '@hyperproto/core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { beyondBounds } from './prediction-server.js';
import { postPrediction, predictionServers } from './test-support/prediction-servers.js';
import { seededSoftmaxModel } from './test-support/softmax-model.js';

// A body within --body-limit that JSON.parse would spend seconds and hundreds of megabytes on (millions of nested
// arrays, empty rows or names) is refused from its text, before it is parsed, with the status and code a parsed body
// would get. A probe's 8 MiB body of 4 million nested arrays held the event loop for 4.7 s; 8 at once took 32 s and
// 1.68 GB.

const WIDTH = 20;
const CLASSES = 7;
const MAX_ROWS = 1024;

const row = (seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: WIDTH }, () => rng.normal());
};

const { start } = predictionServers(() => seededSoftmaxModel({ width: WIDTH, classes: CLASSES }), 'test.onnx');
let port: number;
beforeAll(async () => {
  port = await start();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const post = (body: string) => postPrediction(port, body, 20_000);

/** Posts `body` and answers what came back and how often the server ran JSON.parse on the body's text. */
async function postCountingParses(body: string): Promise<{ status: number; body: any; parses: number }> {
  const parse = vi.spyOn(JSON, 'parse');
  try {
    const answer = await post(body);
    const parses = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length >= body.length - 1).length;
    return { ...answer, parses };
  } finally {
    parse.mockRestore();
  }
}

const repeat = (item: string, times: number) => Array(times).fill(item).join(',');
const good = JSON.stringify(row(1));
const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

const NESTED = {
  code: 'invalid-request',
  message:
    'the request body nests arrays or objects where a request has none; send {"rows": [[feature, ...], ...], "topK": K, "scores": true}',
};
const TOO_MANY = {
  code: 'too-many-rows',
  message: 'the request has more than 1024 rows; at most 1024 are accepted at once: split them into smaller requests',
};

describe('bodies refused before they are parsed', () => {
  it('answers them with the status and code the limits and the schema give, without running JSON.parse on them', async () => {
    const cases: [string, string, number, Record<string, unknown>][] = [
      ['1 million nested arrays in rows', `{"rows":${deep(1_000_000)}}`, 400, NESTED],
      ['nested arrays after a good row', `{"rows":[${good},[1,2,${deep(1000)}]]}`, 400, NESTED],
      ['300,000 empty rows', `{"rows":[${repeat('[]', 300_000)}]}`, 413, TOO_MANY],
      ['300,000 numbers as rows', `{"rows":[${repeat('0', 300_000)}]}`, 413, TOO_MANY],
      [
        '100,000 names',
        `{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1`).join(',')},"rows":[${good}]}`,
        400,
        { code: 'invalid-request', message: 'the request body has more names than "rows", "topK" and "scores"; send only those' },
      ],
      [
        'an object with 100,000 names as a row',
        `{"rows":[{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1`).join(',')}}]}`,
        400,
        NESTED,
      ],
      [
        '300,000 arrays in topK',
        `{"rows":[${good}],"topK":[${repeat('[]', 300_000)}]}`,
        400,
        {
          code: 'invalid-request',
          message: 'the request body holds an array of more than 1024 values outside "rows"; send only "rows", "topK" and "scores"',
        },
      ],
      [
        'nested arrays as the whole body',
        deep(1_000_000),
        400,
        { code: 'invalid-request', message: 'the request body does not match the schema: body must be object' },
      ],
      ['nested arrays that never close', `{"rows":${'['.repeat(1_000_000)}`, 400, NESTED],
      ['nested arrays, then a key that could reach a prototype', `{"rows":${deep(1_000_000)},"__proto__":{}}`, 400, NESTED],
    ];
    for (const [what, body, status, error] of cases) {
      expect(beyondBounds(body, MAX_ROWS), what).toMatchObject({ status, body: { error } });
      const answer = await postCountingParses(body);
      expect(answer.status, what).toBe(status);
      expect(answer.body.error, what).toEqual(error);
      expect(answer.parses, what).toBe(0);
    }
    expect((await post(JSON.stringify({ rows: [row(2)] }))).status).toBe(200);
  });

  it('refuses rows, topK or scores given twice, which a parsed body would silently take the last of', async () => {
    for (const body of [
      `{"rows":[${good}],"rows":[${good}]}`,
      `{"rows":[${repeat('[]', 500)}],"rows":[${good}]}`,
      `{"rows":[${good}],"scores":true,"\\u0073cores":false}`,
    ]) {
      const answer = await postCountingParses(body);
      expect(answer.status, body.slice(0, 60)).toBe(400);
      expect(answer.body.error.code).toBe('invalid-request');
      expect(answer.body.error.message).toMatch(
        /^the request body gives "(rows|scores)" more than once; send each of "rows", "topK" and "scores" at most once$/,
      );
      expect(answer.parses).toBe(0);
    }
  });

  it('parses the bodies within the bounds as before: a full request, and mistakes the schema names', async () => {
    const full = JSON.stringify({ rows: Array.from({ length: MAX_ROWS }, (_, i) => row(10 + i)), topK: 3, scores: true });
    expect(beyondBounds(full, MAX_ROWS)).toBeUndefined();
    const answer = await postCountingParses(full);
    expect(answer.status).toBe(200);
    expect(answer.body.predictions).toHaveLength(MAX_ROWS);
    expect(answer.parses).toBe(1);
    // Strings, brackets and escaped quotes inside strings are skipped whole.
    const strings = `{"rows":[[${repeat('"[[{\\"]]"', WIDTH)}]]}`;
    expect(beyondBounds(strings, MAX_ROWS)).toBeUndefined();
    const refused = await postCountingParses(strings);
    expect(refused.body.error).toMatchObject({ code: 'not-a-number', row: 0, column: 0 });
    expect(refused.parses).toBe(1);
  });
});

describe('the checks on the text', () => {
  it('flag only what the schema or the limits refuse', () => {
    const within = [
      `{"rows":[${good}]}`,
      `{ "rows" : [ [ 1 , 2 ] , [ 3 ] ] , "topK" : 2 , "scores" : true }`,
      `{"rows":[["a]","\\"[[["]]}`,
      // An escaped backslash before a closing quote; an escaped quote after one.
      `{"rows":[["\\\\",1],["\\\\\\"[[[["]]}`,
      `{"\\u0072ows":[[1]]}`,
      `{"rows":[${repeat('[1]', MAX_ROWS)}]}`,
      // Arrays under other names: the schema names what is wrong with them.
      `{"topK":[1]}`,
      `{"x":[]}`,
      `{"features":[[1,2]]}`,
      // Not JSON: JSON.parse stops at the first error, and up to there the text is within bounds.
      `{"rows":[[1,,2]]`,
    ];
    for (const body of within) expect(beyondBounds(body, MAX_ROWS), body.slice(0, 80)).toBeUndefined();
    const beyond = [
      `{"rows":[[[1]]]}`,
      `{"rows":[{}]}`,
      `{"scores":{}}`,
      `[1]`,
      `{"rows":[[1]]}{}`,
      `{"rows":[${repeat('[1]', MAX_ROWS + 1)}]}`,
      `{"rows":[[1]],"rows":[[1]]}`,
      `{"\\u0072ows":[[1]],"rows":[[1]]}`,
      `{"a":1,"b":2,"c":3,"d":4}`,
    ];
    for (const body of beyond)
      expect(beyondBounds(body, MAX_ROWS), body.slice(0, 80)).toMatchObject({ body: { error: { code: expect.any(String) } } });
  });
});
