import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { allowedHostNames, hostName, hostOfHeader, loopbackHosts, requestedHost, targetAuthority } from './index.js';

describe('hostName', () => {
  it('writes an address as a Host header names it: lower case, IPv6 in brackets once', () => {
    expect(hostName(' Model.Internal ')).toBe('model.internal');
    expect(hostName('::1')).toBe('[::1]');
    expect(hostName('[::1]')).toBe('[::1]');
    expect(hostName('FE80::1')).toBe('[fe80::1]');
    expect(hostName('10.0.0.7')).toBe('10.0.0.7');
  });
});

describe('hostOfHeader', () => {
  it('takes the name of a well-formed host[:port], lower case', () => {
    expect(hostOfHeader('Example.COM:8080')).toBe('example.com');
    expect(hostOfHeader('127.0.0.1')).toBe('127.0.0.1');
    expect(hostOfHeader('[::1]:3000')).toBe('[::1]');
  });

  it('refuses a missing or malformed header', () => {
    for (const header of [undefined, '', 'a b', 'host:123456', 'host:', '::1', 'user@host', 'host/path']) {
      expect(hostOfHeader(header), String(header)).toBeUndefined();
    }
  });
});

describe('targetAuthority', () => {
  it('takes the authority of an absolute-form target, whose name hostOfHeader then reads', () => {
    expect(targetAuthority('http://127.0.0.1:8080/v1/metadata')).toBe('127.0.0.1:8080');
    expect(targetAuthority('HTTPS://Evil.Example?x=1')).toBe('Evil.Example');
    expect(targetAuthority('http://[::1]/')).toBe('[::1]');
    expect(targetAuthority('http:///path')).toBe('');
    expect(hostOfHeader(targetAuthority('http://user@127.0.0.1/'))).toBeUndefined();
  });

  it('finds none in a path, an asterisk or an authority-form target', () => {
    for (const target of [undefined, '', '/v1/metadata', '//evil.example/path', '/x?u=http://evil.example/', '*', 'evil.example:443']) {
      expect(targetAuthority(target), String(target)).toBeUndefined();
    }
  });
});

describe('requestedHost', () => {
  it("takes an absolute-form target's host over the Host header, else the Host header's", () => {
    expect(requestedHost('http://Evil.Example:80/v1/metadata', '127.0.0.1')).toEqual({
      name: 'evil.example',
      source: 'target',
      text: 'Evil.Example:80',
    });
    expect(requestedHost('/v1/metadata', 'LOCALHOST:8080')).toEqual({ name: 'localhost', source: 'header', text: 'LOCALHOST:8080' });
    expect(requestedHost('http://user@127.0.0.1/', '127.0.0.1')).toEqual({ name: undefined, source: 'target', text: 'user@127.0.0.1' });
    expect(requestedHost('/', undefined)).toEqual({ name: undefined, source: 'header', text: '' });
  });
});

describe('allowedHostNames', () => {
  it('answers loopback, the address listened on and the extra names, nothing else', () => {
    expect(loopbackHosts()).toEqual(['127.0.0.1', 'localhost', '[::1]']);
    expect([...allowedHostNames('127.0.0.1')]).toEqual(['127.0.0.1', 'localhost', '[::1]']);
    expect([...allowedHostNames('192.168.5.9', ['Box.Internal', 'fe80::2'])]).toEqual([
      '127.0.0.1',
      'localhost',
      '[::1]',
      '192.168.5.9',
      'box.internal',
      '[fe80::2]',
    ]);
  });

  it('adds every address of this machine when listening on all of them', () => {
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => hostName(a.address)));
    expect(addresses.length).toBeGreaterThan(0);
    for (const all of ['0.0.0.0', '::', '']) {
      const names = allowedHostNames(all);
      for (const address of addresses) expect(names.has(address), `${all}: ${address}`).toBe(true);
    }
    for (const address of addresses.filter((a) => !loopbackHosts().includes(a)))
      expect(allowedHostNames('127.0.0.1').has(address)).toBe(false);
  });
});
