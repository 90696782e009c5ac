import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChallTestSrv, type ChallTestSrv } from '../../test/support/challtestsrv.js';
import { AcmeProblem } from '../core/problem.js';
import { validateDns01 } from './dns01.js';
import { createResolver } from './resolver.js';

let dns: ChallTestSrv;
beforeAll(async () => {
  dns = await startChallTestSrv();
});
afterAll(async () => dns?.stop());

const keyAuth = 'token-abc.thumbprint-xyz';
const digest = createHash('sha256').update(keyAuth).digest('base64url');
const options = () => ({ resolver: createResolver([dns.dnsAddress], 2000), timeoutMs: 2000 });

async function problem(name: string): Promise<AcmeProblem> {
  try {
    await validateDns01({ type: 'dns', value: name }, keyAuth, options());
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  throw new Error('expected the validation to fail');
}

describe('validateDns01 (RFC 8555 §8.4)', () => {
  it('accepts the digest among several TXT values', async () => {
    await dns.addTxt('_acme-challenge.ok.dns01.test', 'something-else');
    await dns.addTxt('_acme-challenge.ok.dns01.test', digest);
    await expect(validateDns01({ type: 'dns', value: 'ok.dns01.test' }, keyAuth, options())).resolves.toBeUndefined();
  });

  it('follows a CNAME to a delegated challenge zone', async () => {
    await dns.setCname('_acme-challenge.delegated.dns01.test', 'delegated.acme-zone.test');
    await dns.addTxt('delegated.acme-zone.test', digest);
    await expect(validateDns01({ type: 'dns', value: 'delegated.dns01.test' }, keyAuth, options())).resolves.toBeUndefined();
  });

  it('is incorrectResponse, counting what it found without quoting it, when no value matches', async () => {
    // A CNAME there can lead the CA's resolver into an internal zone: its TXT values are not read back (issue 19).
    await dns.addTxt('_acme-challenge.wrong.dns01.test', 'stale-value');
    const p = await problem('wrong.dns01.test');
    expect(p.type).toBe('incorrectResponse');
    expect(p.detail).toBe(`no TXT record at _acme-challenge.wrong.dns01.test matches this challenge: expected "${digest}", found 1 other value`);
    expect(p.detail).not.toContain('stale-value');
    expect(p.identifier).toEqual({ type: 'dns', value: 'wrong.dns01.test' });
  });

  it('is a dns problem naming the name and rcode for SERVFAIL and for no TXT at all', async () => {
    await dns.setServfail('_acme-challenge.broken.dns01.test');
    const servfail = await problem('broken.dns01.test');
    expect(servfail.type).toBe('dns');
    expect(servfail.detail).toMatch(/SERVFAIL looking up TXT for _acme-challenge\.broken\.dns01\.test/);
    const none = await problem('empty.dns01.test');
    expect(none.type).toBe('dns');
    expect(none.detail).toMatch(/(NODATA|NXDOMAIN) looking up TXT for _acme-challenge\.empty\.dns01\.test/);
  });

  it('is bounded by the timeout when the DNS server never answers', async () => {
    const { startSilentDnsServer } = await import('../../test/support/dns-responders.js');
    const silent = await startSilentDnsServer();
    try {
      const started = performance.now();
      const p = await validateDns01({ type: 'dns', value: 'slow.dns01.test' }, keyAuth, {
        resolver: createResolver([silent.address], 300),
        timeoutMs: 300,
      }).catch((e: unknown) => e as AcmeProblem);
      expect(p).toBeInstanceOf(AcmeProblem);
      expect((p as AcmeProblem).type).toBe('dns');
      expect(performance.now() - started).toBeLessThan(3000);
    } finally {
      await silent.stop();
    }
  });
});
