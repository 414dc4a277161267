import { createRng } from '@hyperproto/core';
import { InvalidFeaturesError, toFeatureMatrix } from '@hyperproto/runtime-node';
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
      expect(beyondBounds(body, MAX_ROWS, WIDTH), what).toMatchObject({ status, body: { error } });
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
    expect(beyondBounds(full, MAX_ROWS, WIDTH)).toBeUndefined();
    const answer = await postCountingParses(full);
    expect(answer.status).toBe(200);
    expect(answer.body.predictions).toHaveLength(MAX_ROWS);
    expect(answer.parses).toBe(1);
    // Strings, brackets and escaped quotes inside strings are skipped whole.
    const strings = `{"rows":[[${repeat('"[[{\\"]]"', WIDTH)}]]}`;
    expect(beyondBounds(strings, MAX_ROWS, WIDTH)).toBeUndefined();
    const refused = await postCountingParses(strings);
    expect(refused.body.error).toMatchObject({ code: 'not-a-number', row: 0, column: 0 });
    expect(refused.parses).toBe(1);
  });
});

describe('rows wider than the model', () => {
  const zeros = (count: number) => `[${repeat('0', count)}]`;
  /** What the server answers once a parsed body's rows reach toFeatureMatrix: its code, message and row. */
  const parsedAnswer = (body: string) => {
    try {
      toFeatureMatrix(JSON.parse(body).rows, WIDTH);
    } catch (error) {
      if (!(error instanceof InvalidFeaturesError)) throw error;
      const { problem, row } = error.detail;
      return { code: problem, message: error.message, ...(row === undefined ? {} : { row }) };
    }
    throw new Error('toFeatureMatrix took the rows');
  };

  it('refuses one row of 4 million numbers (8 MiB) without running JSON.parse, as the parsed body was answered', async () => {
    const body = `{"rows":[${zeros(4_000_000)}]}`;
    const answer = await postCountingParses(body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toEqual({
      code: 'wrong-width',
      message: `the batch has rows of 4000000 features; the model expects ${WIDTH}`,
    });
    expect(answer.parses).toBe(0);
    const wideSecondRow = `{"rows":[${good},${zeros(1_000_000)}],"topK":2}`;
    const second = await postCountingParses(wideSecondRow);
    expect(second.body.error).toEqual({
      code: 'ragged-rows',
      message: `the batch has ragged rows: row 0 has ${WIDTH} values but row 1 has 1000000; every row needs the model's ${WIDTH} features`,
      row: 1,
    });
    expect(second.parses).toBe(0);
  });

  it("answers in toFeatureMatrix's words: the first row that differs from row 0, else the width of all", () => {
    for (const rows of [
      [zeros(WIDTH + 1)],
      [zeros(WIDTH + 1), zeros(WIDTH + 1)],
      [good, zeros(WIDTH + 5)],
      [zeros(3), good, zeros(WIDTH + 5)],
      [zeros(WIDTH + 5), good],
      ['[]', zeros(WIDTH + 1)],
      ['[ \n ]', good, zeros(WIDTH + 1)],
      [good, good, `[${repeat('-1.5e+3', WIDTH + 1)}]`],
    ]) {
      const body = `{"rows":[${rows.join(',')}]}`;
      expect(beyondBounds(body, MAX_ROWS, WIDTH), body.slice(0, 80)).toEqual({ status: 400, body: { error: parsedAnswer(body) } });
    }
  });

  it('answers not-a-number at the first string, null, true or false in rows, as the schema does before widths', async () => {
    const cases: [string, number, number][] = [
      // Long enough that the answer's text is not counted as a parse of the body (see postCountingParses).
      [`{"rows":[[${repeat('0', 10 * WIDTH)},"x"]]}`, 0, 10 * WIDTH],
      [`{"rows":[${good},[1,null,${repeat('0', 10 * WIDTH)}]]}`, 1, 1],
      [`{"rows":[${zeros(10 * WIDTH)},[true],["a,b"]]}`, 1, 0],
      [`{"rows":[["a,${','.repeat(10 * WIDTH)}",false],${zeros(WIDTH + 1)}]}`, 0, 0],
    ];
    for (const [body, row, column] of cases) {
      expect(beyondBounds(body, MAX_ROWS, WIDTH), body.slice(0, 80)).toMatchObject({ status: 400, body: { error: { row, column } } });
      const answer = await postCountingParses(body);
      expect(answer.body.error, body.slice(0, 80)).toEqual({
        code: 'not-a-number',
        message: `row ${row}, column ${column} is not a finite number; features must be finite numbers`,
        row,
        column,
      });
      expect(answer.parses).toBe(0);
    }
  });

  it('refuses an array of arrays under another name holding more values than a row', () => {
    expect(beyondBounds(`{"rows":[${good}],"topK":[${zeros(WIDTH + 1)}]}`, MAX_ROWS, WIDTH)).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'invalid-request',
          message: `the request body holds an array of more than ${WIDTH} values outside "rows"; send only "rows", "topK" and "scores"`,
        },
      },
    });
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
      // Rows of the model's width, or narrower (toFeatureMatrix names that), and commas inside strings.
      `{"rows":[[${repeat('1e-5', WIDTH)}],[${repeat('-2E+3', WIDTH - 1)}],[]]}`,
      `{"rows":[["${','.repeat(10 * WIDTH)}",null,true,false]]}`,
      // Arrays under other names: the schema names what is wrong with them.
      `{"topK":[1]}`,
      `{"x":[]}`,
      `{"features":[[1,2]]}`,
      // Not JSON: JSON.parse stops at the first error, and up to there the text is within bounds.
      `{"rows":[[1,,2]]`,
    ];
    for (const body of within) expect(beyondBounds(body, MAX_ROWS, WIDTH), body.slice(0, 80)).toBeUndefined();
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
      expect(beyondBounds(body, MAX_ROWS, WIDTH), body.slice(0, 80)).toMatchObject({ body: { error: { code: expect.any(String) } } });
  });
});
