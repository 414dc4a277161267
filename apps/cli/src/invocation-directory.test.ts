import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { invocationDirectory } from './invocation-directory.js';

describe('invocationDirectory', () => {
  const user = mkdtempSync(join(tmpdir(), 'hyperproto-user-'));
  const root = '/repo';

  it('is where the user typed the command when a package script runs from the package root', () => {
    expect(invocationDirectory({ INIT_CWD: user, npm_package_json: `${root}/package.json` }, root)).toBe(user);
  });

  it('keeps the working directory of a script that changed directory itself, and outside package scripts', () => {
    expect(invocationDirectory({ INIT_CWD: user, npm_package_json: `${root}/package.json` }, `${root}/sub`)).toBe(`${root}/sub`);
    expect(invocationDirectory({}, '/somewhere')).toBe('/somewhere');
    expect(invocationDirectory({ INIT_CWD: user }, '/somewhere')).toBe('/somewhere');
  });

  it('ignores an INIT_CWD that no longer exists', () => {
    expect(invocationDirectory({ INIT_CWD: join(user, 'gone'), npm_package_json: `${root}/package.json` }, root)).toBe(root);
  });
});
