import { describe, expect, it } from 'vitest';
import { hideUrlPassword, hideUrlPasswords } from './url-password.js';

describe('hideUrlPassword', () => {
  it.each([
    ['redis://:s3cret@queue.lab:6380/2', 'redis://:***@queue.lab:6380/2'],
    ['rediss://worker:p%40ss@[::1]/0', 'rediss://worker:***@[::1]/0'],
    ['--queue=redis://:s3cret@h:1/0', '--queue=redis://:***@h:1/0'],
    // What no URL parser reads: an unencoded @, / or space in the password is hidden whole.
    ['redis://:p@ss@h:1/0', 'redis://:***@h:1/0'],
    ['redis://u:12/34@h/0', 'redis://u:***@h/0'],
    ['redis://:two words@h/0', 'redis://:***@h/0'],
    // A whole stored command line.
    [
      'hyperproto experiment --queue redis://:hunter2@h:6379/0 --out runs/a',
      'hyperproto experiment --queue redis://:***@h:6379/0 --out runs/a',
    ],
    // A user name alone may be the secret (a password whose colon was forgotten, a token): hidden whole.
    ['redis://probe-pw-123@127.0.0.1:6391/0', 'redis://***@127.0.0.1:6391/0'],
    ['redis://worker@h:1/0', 'redis://***@h:1/0'],
    ['https://ghp_token@github.com/o/r', 'https://***@github.com/o/r'],
    ['redis://p@ss@h:1/0', 'redis://***@h:1/0'],
    ['--queue=redis://s3cret@h:1/0', '--queue=redis://***@h:1/0'],
    [
      'error: the job queue at redis://s3cret@h:6379/0 refused the password',
      'error: the job queue at redis://***@h:6379/0 refused the password',
    ],
    ['redis://first@a:1/0 and redis://second@b:1/0', 'redis://***@a:1/0 and redis://***@b:1/0'],
    // Nothing to hide: an "@" after the host is in the path, not in a user name.
    ['https://registry.npmjs.org/@hyperproto/core', 'https://registry.npmjs.org/@hyperproto/core'],
    ['redis://h:6379/0', 'redis://h:6379/0'],
    ['--out', '--out'],
  ])('shows %s as %s', (text, shown) => {
    expect(hideUrlPassword(text)).toBe(shown);
  });

  it('hides the password of every argument of a command line and leaves the others as they were', () => {
    expect(hideUrlPasswords(['experiment', '--queue', 'redis://:hunter2@h:6379/0', '--out', 'runs/a b'])).toEqual([
      'experiment',
      '--queue',
      'redis://:***@h:6379/0',
      '--out',
      'runs/a b',
    ]);
  });

  it('hides a user name given without a password in every argument too', () => {
    expect(hideUrlPasswords(['worker', '--queue', 'redis://hunter2@h:6379/0', '--out', 'me@home'])).toEqual([
      'worker',
      '--queue',
      'redis://***@h:6379/0',
      '--out',
      'me@home',
    ]);
  });
});
