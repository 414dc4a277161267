import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@hyperproto/core';
import { parseQueueAddress } from './queue-address.js';

describe('parseQueueAddress', () => {
  it('reads host, port, database and credentials, and hides the password in what it shows', () => {
    expect(parseQueueAddress('redis://:s3cret@queue.lab:6380/2')).toMatchObject({
      host: 'queue.lab',
      port: 6380,
      db: 2,
      username: undefined,
      password: 's3cret',
      tls: false,
      display: 'redis://:***@queue.lab:6380/2',
    });
    expect(parseQueueAddress('rediss://worker:p%40ss@[::1]/0')).toMatchObject({
      host: '::1',
      port: 6379,
      db: 0,
      username: 'worker',
      password: 'p@ss',
      tls: true,
      display: 'rediss://worker:***@[::1]/0',
    });
    expect(parseQueueAddress('redis://127.0.0.1').display).toBe('redis://127.0.0.1/0');
  });

  it('hides a user name given without a password (a password whose colon was forgotten) in what it shows', () => {
    expect(parseQueueAddress('redis://probe-pw-123@127.0.0.1:6391/0')).toMatchObject({
      username: 'probe-pw-123',
      password: undefined,
      display: 'redis://***@127.0.0.1:6391/0',
    });
  });

  it.each([
    ['not a URL', 'localhost:6379', /it is not a URL|the scheme is localhost: not redis:/],
    ['another scheme', 'http://127.0.0.1:6379/0', /the scheme is http: not redis:/],
    ['a database that is not a number', 'redis://127.0.0.1:6379/jobs', /the database "jobs" is not a number/],
    ['a query string', 'redis://127.0.0.1:6379/0?password=x', /has a query or fragment/],
  ])('refuses %s with the form it must have', (_, url, why) => {
    let caught: unknown;
    try {
      parseQueueAddress(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: ErrorCode.InvalidOptions, hint: expect.stringMatching(/redis:\/\/\[\[USER\]:PASSWORD@\]HOST/) });
    expect((caught as Error).message).toMatch(why);
  });

  it('never repeats a password in a refusal', () => {
    expect(() => parseQueueAddress('http://user:hunter2@127.0.0.1/0')).toThrow(/user:\*\*\*@/);
    expect(() => parseQueueAddress('http://user:hunter2@127.0.0.1/0')).not.toThrow(/hunter2/);
  });

  it.each([
    ['http://hunter2@127.0.0.1/0', '--queue http://***@127.0.0.1/0: the scheme is http: not redis:'],
    ['redis://hunter2@127.0.0.1/jobs', '--queue redis://***@127.0.0.1/jobs: the database "jobs" is not a number'],
    // The colon forgotten and a "/" in the password: the parser would read "hun" as the host.
    ['redis://hun/ter2@h:6379/0', '--queue redis://***@h:6379/0: the password (or user name) has an unencoded "/", "#" or "?"'],
    ['redis://hun#ter2@h/0', '--queue redis://***@h/0: the password (or user name) has an unencoded "/", "#" or "?"'],
    // No redis:// at all.
    ['hunter2@h:6379', /^--queue \*\*\*@h:6379: (it is not a URL|the scheme is .*)$/],
    ['redis:hunter2@h/0', /^--queue redis:\*\*\*@h\/0: /],
  ])('never repeats a user name given without a password in a refusal: %s', (url, message) => {
    expect(() => parseQueueAddress(url)).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOptions,
        message: typeof message === 'string' ? message : expect.stringMatching(message),
      }),
    );
    expect(() => parseQueueAddress(url)).not.toThrow(/hun|ter2/);
  });

  it.each([
    ['redis://u:1234/secret@h:6379/0', 'redis://u:***@h:6379/0'],
    ['redis://:12#ab@h/0', 'redis://:***@h/0'],
    ['redis://u:p?w@h/0', 'redis://u:***@h/0'],
  ])('says that the password of %s has a character to encode, without echoing any of it', (url, shown) => {
    expect(() => parseQueueAddress(url)).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOptions,
        message: `--queue ${shown}: the password (or user name) has an unencoded "/", "#" or "?"`,
        hint: expect.stringContaining('"/" as %2F'),
      }),
    );
  });
});

describe('parseQueueAddress of an empty queue', () => {
  it('refuses an empty queue (an unset variable) instead of taking it for none', () => {
    expect(() => parseQueueAddress('')).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOptions, message: '--queue is empty' }));
    expect(() => parseQueueAddress('  ')).toThrow(/--queue is empty/);
  });
});

describe('parseQueueAddress of a queue given by an environment variable', () => {
  it('names the variable instead of --queue when it is empty', () => {
    expect(() => parseQueueAddress('', 'HYPERPROTO_QUEUE_URL')).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOptions,
        message: 'HYPERPROTO_QUEUE_URL is empty',
        hint: expect.stringMatching(/^Set HYPERPROTO_QUEUE_URL to the queue as redis:\/\/\[\[USER\]:PASSWORD@\]HOST/),
      }),
    );
  });

  it.each([
    ['localhost:6379', /^HYPERPROTO_QUEUE_URL localhost:6379: (it is not a URL|the scheme is localhost: not redis:)$/],
    [
      'redis://:s3cret@127.0.0.1:6379/jobs',
      /^HYPERPROTO_QUEUE_URL redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/jobs: the database "jobs" is not a number$/,
    ],
    ['redis://u:12/34@h/0', /^HYPERPROTO_QUEUE_URL redis:\/\/u:\*\*\*@h\/0: the password \(or user name\) has an unencoded/],
  ])('names the variable instead of --queue when %s is malformed, with the same reason and hint', (url, message) => {
    let caught: unknown;
    try {
      parseQueueAddress(url, 'HYPERPROTO_QUEUE_URL');
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: ErrorCode.InvalidOptions });
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).not.toMatch(/--queue|s3cret|34/);
  });
});
