import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HostsFile, parseHostsFile } from './hosts-file.js';

describe('parseHostsFile', () => {
  it('reads IPv4 and IPv6 addresses, canonical names and aliases, without regard to case', () => {
    const names = parseHostsFile(
      [
        '127.0.0.1\tlocalhost',
        '::1     localhost ip6-localhost ip6-loopback',
        '10.0.0.5 Build.Example.Internal build ci',
        'fd00::5 build.example.internal',
      ].join('\n'),
    );
    expect(names.get('localhost')).toEqual(['127.0.0.1', '::1']);
    expect(names.get('ip6-loopback')).toEqual(['::1']);
    expect(names.get('build.example.internal')).toEqual(['10.0.0.5', 'fd00::5']);
    expect(names.get('build')).toEqual(['10.0.0.5']);
    expect(names.get('ci')).toEqual(['10.0.0.5']);
  });

  it('skips comments, blank lines, lines without a name and lines that do not start with an address', () => {
    const names = parseHostsFile(
      [
        '# The following lines are desirable for IPv6 capable hosts',
        '',
        '   ',
        '10.0.0.7 app.internal # the app server',
        '10.0.0.8 # only a comment after the address',
        '#10.0.0.9 commented.internal',
        'not-an-address name.internal',
        '10.0.0.300 bad-octet.internal',
        '10.0.0.10',
        '10.0.0.11 crlf.internal\r',
      ].join('\n'),
    );
    expect([...names.keys()].sort()).toEqual(['app.internal', 'crlf.internal']);
    expect(names.get('app.internal')).toEqual(['10.0.0.7']);
    expect(names.get('crlf.internal')).toEqual(['10.0.0.11']);
  });

  it('gives a name listed on several lines every address once, in file order; drops a zone index', () => {
    const names = parseHostsFile('10.0.0.1 multi.internal\n10.0.0.2 multi.internal\n10.0.0.1 multi.internal\nfe80::1%eth0 router.internal\n');
    expect(names.get('multi.internal')).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(names.get('router.internal')).toEqual(['fe80::1']);
  });
});

describe('HostsFile', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('answers IPv4 first, case-insensitively, and undefined for a name it does not list', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-hosts-'));
    const file = path.join(dir, 'hosts');
    writeFileSync(file, '::1 localhost\n127.0.0.1 localhost\n');
    const hosts = new HostsFile(file);
    expect(hosts.lookup('LocalHost')).toEqual(['127.0.0.1', '::1']);
    expect(hosts.lookup('localhost.')).toEqual(['127.0.0.1', '::1']);
    expect(hosts.lookup('elsewhere.internal')).toBeUndefined();
  });

  it('reads the file again once it changes, and answers nothing when it is gone', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-hosts-'));
    const file = path.join(dir, 'hosts');
    writeFileSync(file, '10.0.0.1 app.internal\n');
    const hosts = new HostsFile(file);
    expect(hosts.lookup('app.internal')).toEqual(['10.0.0.1']);
    // Same size, another modification time: an operator's edit, noticed without a restart.
    writeFileSync(file, '10.0.0.2 app.internal\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(hosts.lookup('app.internal')).toEqual(['10.0.0.2']);
    rmSync(file);
    expect(hosts.lookup('app.internal')).toBeUndefined();
  });
});
