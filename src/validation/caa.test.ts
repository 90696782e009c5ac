import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChallTestSrv, type ChallTestSrv } from '../../test/support/challtestsrv.js';
import { AcmeProblem } from '../core/problem.js';
import { caaRefusal, checkCaa, type CaaProperty, type CaaRequest } from './caa.js';
import { createResolver } from './resolver.js';

const ACCOUNT = 'https://ca.test/acme/acct/abc';
const req = (o: Partial<CaaRequest> = {}): CaaRequest => ({
  identifier: { type: 'dns', value: 'web.caa.test' },
  wildcard: false,
  accountUri: ACCOUNT,
  method: 'http-01',
  ...o,
});
const issue = (value: string, critical = false): CaaProperty => ({ critical, tag: 'issue', value });
const ours = ['certmint.test'];

describe('caaRefusal (RFC 8659, RFC 8657)', () => {
  it('allows an issue property naming this CA, in any case, with whitespace', () => {
    expect(caaRefusal([issue('Certmint.test')], req(), ours)).toBeUndefined();
    expect(caaRefusal([issue('other.example'), issue(' certmint.test ; foo=bar ')], req(), ours)).toBeUndefined();
  });

  it('refuses when no issue property names this CA, or when it says ";" (nobody)', () => {
    expect(caaRefusal([issue('other.example')], req(), ours)).toBe('no issue property names this CA (certmint.test)');
    expect(caaRefusal([issue(';')], req(), ours)).toMatch(/no issue property names this CA/);
  });

  it('allows when the set has no issue property at all (only iodef)', () => {
    expect(caaRefusal([{ critical: false, tag: 'iodef', value: 'mailto:sec@caa.test' }], req(), ours)).toBeUndefined();
  });

  it('refuses an unknown critical property, ignores an unknown non-critical one', () => {
    expect(caaRefusal([issue('certmint.test'), { critical: true, tag: 'future', value: 'x' }], req(), ours)).toMatch(
      /critical property "future"/,
    );
    expect(caaRefusal([issue('certmint.test'), { critical: false, tag: 'future', value: 'x' }], req(), ours)).toBeUndefined();
  });

  it('uses issuewild for wildcards when present, issue otherwise', () => {
    const props = [issue('certmint.test'), { critical: false, tag: 'issuewild', value: ';' }];
    expect(caaRefusal(props, req(), ours)).toBeUndefined();
    expect(caaRefusal(props, req({ wildcard: true }), ours)).toBe('no issuewild property names this CA (certmint.test)');
    expect(caaRefusal([issue('certmint.test')], req({ wildcard: true }), ours)).toBeUndefined();
  });

  it('honours accounturi and validationmethods (RFC 8657)', () => {
    expect(caaRefusal([issue(`certmint.test; accounturi=${ACCOUNT}`)], req(), ours)).toBeUndefined();
    expect(caaRefusal([issue('certmint.test; accounturi=https://ca.test/acme/acct/other')], req(), ours)).toBe(
      'issue "certmint.test; accounturi=https://ca.test/acme/acct/other" limits issuance to account https://ca.test/acme/acct/other',
    );
    expect(caaRefusal([issue('certmint.test; validationmethods=dns-01,tls-alpn-01')], req(), ours)).toBe(
      'issue "certmint.test; validationmethods=dns-01,tls-alpn-01" does not allow the validation method http-01',
    );
    expect(caaRefusal([issue('certmint.test; validationmethods=dns-01,http-01')], req(), ours)).toBeUndefined();
  });

  it('refuses a value that does not parse', () => {
    expect(caaRefusal([issue('certmint.test; not a parameter')], req(), ours)).toBe('"certmint.test; not a parameter" does not parse');
  });
});

describe('checkCaa through a real DNS server (pebble-challtestsrv)', () => {
  let dns: ChallTestSrv;
  const check = (r: CaaRequest) => checkCaa(r, { identities: ours, resolver: createResolver([dns.dnsAddress], 2000), timeoutMs: 2000 });
  beforeAll(async () => {
    dns = await startChallTestSrv();
  });
  afterAll(async () => dns?.stop());

  it('allows a name with no CAA anywhere up the tree', async () => {
    await expect(check(req({ identifier: { type: 'dns', value: 'free.nocaa.test' } }))).resolves.toBeUndefined();
  });

  it("uses the closest ancestor's records, and the name's own over its parent's", async () => {
    await dns.addCaa('strict.test', [{ tag: 'issue', value: 'other.example' }]);
    await dns.addCaa('ok.strict.test', [{ tag: 'issue', value: 'certmint.test' }]);
    const refused = await check(req({ identifier: { type: 'dns', value: 'a.b.strict.test' } })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AcmeProblem);
    expect(refused).toMatchObject({
      type: 'caa',
      detail: 'CAA record for strict.test prevents issuance: no issue property names this CA (certmint.test)',
      identifier: { type: 'dns', value: 'a.b.strict.test' },
    });
    await expect(check(req({ identifier: { type: 'dns', value: 'x.ok.strict.test' } }))).resolves.toBeUndefined();
  });

  it('refuses when the CAA lookup fails (SERVFAIL is not permission)', async () => {
    await dns.setServfail('broken.caa.test');
    await expect(check(req({ identifier: { type: 'dns', value: 'broken.caa.test' } }))).rejects.toMatchObject({
      type: 'dns',
      detail: expect.stringMatching(/^While checking CAA for broken.caa.test: DNS problem: SERVFAIL looking up CAA for broken.caa.test/),
    });
  });

  it('never looks up CAA for an IP address (RFC 8738 §7)', async () => {
    await expect(check(req({ identifier: { type: 'ip', value: '127.0.0.1' } }))).resolves.toBeUndefined();
  });
});
