import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChallTestSrv, type ChallTestSrv } from './challtestsrv.js';
import { requireOrSkip } from './clients.js';
import { startNxdomainDnsServer, startSilentDnsServer } from './dns-responders.js';

const available = requireOrSkip('pebble-challtestsrv', 'apt-get install pebble');

// Pins down which management endpoints the installed pebble-challtestsrv really serves.
describe.skipIf(!available)('pebble-challtestsrv harness', () => {
  let srv: ChallTestSrv;
  let dns: Resolver;

  beforeAll(async () => {
    srv = await startChallTestSrv({ defaultIPv4: '' });
    dns = new Resolver({ timeout: 1000, tries: 1 });
    dns.setServers([srv.dnsAddress]);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('serves A and AAAA records and clears them', async () => {
    await srv.addA('a.harness.test', ['127.0.0.5', '127.0.0.6']);
    await srv.addAAAA('a.harness.test', '::1');
    expect(await dns.resolve4('a.harness.test')).toEqual(['127.0.0.5', '127.0.0.6']);
    expect(await dns.resolve6('a.harness.test')).toEqual(['::1']);
    await srv.clearA('a.harness.test');
    await srv.clearAAAA('a.harness.test');
    await expect(dns.resolve4('a.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(dns.resolve6('a.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('follows CNAMEs, answers TXT and CAA', async () => {
    await srv.addA('target.harness.test', '127.0.0.7');
    await srv.setCname('alias.harness.test', 'target.harness.test');
    expect(await dns.resolve4('alias.harness.test')).toEqual(['127.0.0.7']);
    await srv.clearCname('alias.harness.test');
    await expect(dns.resolve4('alias.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });

    await srv.addTxt('_acme-challenge.harness.test', 'digest');
    expect(await dns.resolveTxt('_acme-challenge.harness.test')).toEqual([['digest']]);
    await srv.clearTxt('_acme-challenge.harness.test');
    await expect(dns.resolveTxt('_acme-challenge.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });

    await srv.addCaa('caa.harness.test', [{ tag: 'issue', value: 'certmint.test' }]);
    expect(await dns.resolveCaa('caa.harness.test')).toEqual([{ critical: 0, issue: 'certmint.test' }]);
    await srv.clearCaa('caa.harness.test');
    await expect(dns.resolveCaa('caa.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('answers SERVFAIL on demand', async () => {
    await srv.setServfail('broken.harness.test');
    await expect(dns.resolve4('broken.harness.test')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    await srv.clearServfail('broken.harness.test');
    await expect(dns.resolve4('broken.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('changes the default addresses', async () => {
    await srv.setDefaultIPv4('127.0.0.9');
    await srv.setDefaultIPv6('::1');
    expect(await dns.resolve4('anything.harness.test')).toEqual(['127.0.0.9']);
    expect(await dns.resolve6('anything.harness.test')).toEqual(['::1']);
    await srv.setDefaultIPv4('');
    await srv.setDefaultIPv6('');
    await expect(dns.resolve4('anything.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });
  });
});

describe('hand-made DNS responders', () => {
  it('answers NXDOMAIN', async () => {
    const server = await startNxdomainDnsServer();
    try {
      const dns = new Resolver({ timeout: 1000, tries: 1 });
      dns.setServers([server.address]);
      await expect(dns.resolve4('missing.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      await server.stop();
    }
  });

  it('stays silent', async () => {
    const server = await startSilentDnsServer();
    try {
      const dns = new Resolver({ timeout: 100, tries: 1 });
      dns.setServers([server.address]);
      await expect(dns.resolve4('missing.test')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    } finally {
      await server.stop();
    }
  });
});
