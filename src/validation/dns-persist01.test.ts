import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChallTestSrv, type ChallTestSrv } from '../../test/support/challtestsrv.js';
import { ManualClock } from '../core/clock.js';
import { AcmeProblem } from '../core/problem.js';
import { MAX_PARENT_LOOKUPS, validateDnsPersist01 } from './dns-persist01.js';
import { createResolver } from './resolver.js';

// Through a real resolver against pebble-challtestsrv: what DNS hands over, joined as the
// validator sees it (several strings of one record, several records, CNAMEs).
let dns: ChallTestSrv;
beforeAll(async () => {
  dns = await startChallTestSrv();
});
afterAll(async () => dns?.stop());

const ACCOUNT = 'https://ca.persist.test/acme/acct/me';
const clock = new ManualClock(new Date('2026-06-01T00:00:00Z'));
const NOW_S = clock.now().getTime() / 1000;
const options = () => ({ resolver: createResolver([dns.dnsAddress], 2000), timeoutMs: 2000, issuerDomainNames: ['ca.persist.test', 'alt.persist.test'], clock });

function validate(name: string, wildcard = false): Promise<void> {
  return validateDnsPersist01({ type: 'dns', value: name }, wildcard, ACCOUNT, options());
}

async function problem(name: string, wildcard = false): Promise<AcmeProblem> {
  try {
    await validate(name, wildcard);
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  throw new Error(`expected ${name} not to validate`);
}

describe('validateDnsPersist01 (draft-ietf-acme-dns-persist-01)', () => {
  it('accepts one right record among other CAs\' records and other TXT data, with either issuer name', async () => {
    await dns.addTxt('_validation-persist.ok.persist.test', 'v=spf1 -all');
    await dns.addTxt('_validation-persist.ok.persist.test', 'other-ca.example; accounturi=https://other-ca.example/acct/1');
    await dns.addTxt('_validation-persist.ok.persist.test', `ALT.persist.test.; accounturi=${ACCOUNT}`);
    await expect(validate('ok.persist.test')).resolves.toBeUndefined();
    await expect(validate('OK.Persist.Test')).resolves.toBeUndefined();
  });

  it('follows a CNAME at _validation-persist.<name>', async () => {
    await dns.setCname('_validation-persist.cname.persist.test', 'records.delegated-persist.test');
    await dns.addTxt('records.delegated-persist.test', `ca.persist.test; accounturi=${ACCOUNT}`);
    await expect(validate('cname.persist.test')).resolves.toBeUndefined();
  });

  it('authorizes a wildcard only with policy=wildcard at the base name', async () => {
    await dns.addTxt('_validation-persist.wild.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; policy=Wildcard`);
    await expect(validate('wild.persist.test', true)).resolves.toBeUndefined();
    await dns.addTxt('_validation-persist.tame.persist.test', `ca.persist.test; accounturi=${ACCOUNT}`);
    const p = await problem('tame.persist.test', true);
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toBe(
      `dns-persist-01 record at _validation-persist.tame.persist.test does not permit the wildcard *.tame.persist.test: "ca.persist.test; accounturi=${ACCOUNT}": it does not carry policy=wildcard`,
    );
    expect(p.identifier).toEqual({ type: 'dns', value: 'tame.persist.test' });
  });

  it('authorizes names under a parent whose record carries policy=wildcard, never with one that does not', async () => {
    await dns.addTxt('_validation-persist.parent.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; policy=wildcard`);
    await expect(validate('a.b.parent.persist.test')).resolves.toBeUndefined();
    await dns.addTxt('_validation-persist.plain-parent.persist.test', `ca.persist.test; accounturi=${ACCOUNT}`);
    const p = await problem('web.plain-parent.persist.test');
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toBe(
      `dns-persist-01 record at _validation-persist.plain-parent.persist.test does not permit names under it: "ca.persist.test; accounturi=${ACCOUNT}": it does not carry policy=wildcard (a record at a parent of web.plain-parent.persist.test must carry policy=wildcard to authorize it)`,
    );
    // A wildcard is the base name's own record's business (*.x.parent is not looked up at parent).
    expect((await problem('x.parent.persist.test', true)).detail).toMatch(/^no TXT record at _validation-persist\.x\.parent\.persist\.test: /);
  });

  it('looks at most MAX_PARENT_LOOKUPS parents up, and never at a single label', async () => {
    await dns.addTxt('_validation-persist.deep.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; policy=wildcard`);
    const under = (n: number) => `${Array.from({ length: n }, (_, i) => `l${i}`).join('.')}.deep.persist.test`;
    // deep.persist.test is the MAX_PARENT_LOOKUPS-th parent of under(MAX_PARENT_LOOKUPS).
    await expect(validate(under(MAX_PARENT_LOOKUPS))).resolves.toBeUndefined();
    const p = await problem(under(MAX_PARENT_LOOKUPS + 1));
    expect(p.detail).toBe(`no TXT record at _validation-persist.${under(MAX_PARENT_LOOKUPS + 1)} (nor at the ${MAX_PARENT_LOOKUPS} parent names looked at): add the dns-persist-01 record naming ca.persist.test and this account`);
    await dns.addTxt('_validation-persist.test', `ca.persist.test; accounturi=${ACCOUNT}; policy=wildcard`);
    expect((await problem('single.test')).detail).toBe('no TXT record at _validation-persist.single.test: add the dns-persist-01 record naming ca.persist.test and this account');
  });

  it('is unauthorized "no TXT record" when there is none', async () => {
    const p = await problem('none.persist.test');
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toMatch(/^no TXT record at _validation-persist\.none\.persist\.test \(nor at the 1 parent name looked at\): add the dns-persist-01 record naming ca\.persist\.test and this account$/);
  });

  it('names the issuers found when no record names this CA, and quotes nothing else', async () => {
    await dns.addTxt('_validation-persist.other.persist.test', 'other-ca.example; accounturi=https://other-ca.example/acct/1');
    await dns.addTxt('_validation-persist.other.persist.test', 'internal-secret-token-123');
    const p = await problem('other.persist.test');
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toBe(
      'no dns-persist-01 record at _validation-persist.other.persist.test (nor at the 1 parent name looked at) names this CA ("ca.persist.test", "alt.persist.test"); records found name "other-ca.example"',
    );
    await dns.addTxt('_validation-persist.noise.persist.test', 'internal-secret-token-123');
    const noise = await problem('noise.persist.test');
    expect(noise.detail).toMatch(/the TXT records there are not dns-persist-01 records$/);
    expect(noise.detail).not.toContain('secret');
  });

  it('is unauthorized naming both URIs for another account\'s record', async () => {
    await dns.addTxt('_validation-persist.theirs.persist.test', 'ca.persist.test; accounturi=https://ca.persist.test/acme/acct/someone-else');
    const p = await problem('theirs.persist.test');
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toBe(
      `dns-persist-01 record at _validation-persist.theirs.persist.test names another account: "ca.persist.test; accounturi=https://ca.persist.test/acme/acct/someone-else": accounturi is "https://ca.persist.test/acme/acct/someone-else", not this account's "${ACCOUNT}"`,
    );
  });

  it('is unauthorized with the time once persistUntil has passed, by the injected clock', async () => {
    await dns.addTxt('_validation-persist.expiring.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; persistUntil=${NOW_S + 60}`);
    await expect(validate('expiring.persist.test')).resolves.toBeUndefined();
    clock.advance(61_000);
    try {
      const p = await problem('expiring.persist.test');
      expect(p.type).toBe('unauthorized');
      expect(p.detail).toBe(
        `dns-persist-01 record at _validation-persist.expiring.persist.test has expired: "ca.persist.test; accounturi=${ACCOUNT}; persistUntil=${NOW_S + 60}": persistUntil ${NOW_S + 60} (2026-06-01T00:01:00Z) has passed`,
      );
    } finally {
      clock.advance(-61_000);
    }
  });

  it('is malformed with the parse error for a record naming this CA', async () => {
    await dns.addTxt('_validation-persist.bad.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; policy=wildcard;`);
    const p = await problem('bad.persist.test');
    expect(p.type).toBe('malformed');
    expect(p.detail).toBe(
      `dns-persist-01 record at _validation-persist.bad.persist.test does not parse: "ca.persist.test; accounturi=${ACCOUNT}; policy=wildcard;": empty parameter (a trailing or doubled ";")`,
    );
    // pebble-challtestsrv cannot serve one string over 255 octets (RFC 1035 §3.3): the cut of longer
    // records is unit-tested (dns-persist-record.test.ts, quote).
    await dns.addTxt('_validation-persist.twice.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; persistUntil=1; PersistUntil=2`);
    expect((await problem('twice.persist.test')).detail).toMatch(/: parameter "PersistUntil" appears twice$/);
    // Many records naming us: a few are quoted, the rest counted.
    for (let i = 0; i < 5; i++) await dns.addTxt('_validation-persist.many.persist.test', `ca.persist.test; accounturi=${ACCOUNT}; n=${i};`);
    const many = await problem('many.persist.test');
    expect(many.detail.match(/empty parameter/g)).toHaveLength(3);
    expect(many.detail).toMatch(/; and 2 more$/);
  });

  it('is a dns problem when the lookup fails (SERVFAIL), as dns-01 is', async () => {
    await dns.setServfail('_validation-persist.broken.persist.test');
    const p = await problem('broken.persist.test');
    expect(p.type).toBe('dns');
    expect(p.detail).toBe('DNS problem: SERVFAIL looking up TXT for _validation-persist.broken.persist.test');
  });

  it('refuses IP identifiers', async () => {
    await expect(validateDnsPersist01({ type: 'ip', value: '10.0.0.1' }, false, ACCOUNT, options())).rejects.toMatchObject({ type: 'malformed' });
  });
});
