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
