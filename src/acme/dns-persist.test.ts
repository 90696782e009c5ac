import { describe, expect, it } from 'vitest';
import { type TestAcmeApp } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { makeCsr } from '../../test/support/csr.js';
import { orderWithAuthorizations, type AuthorizationBody } from '../../test/support/issue-flow.js';
import { registeredClient } from '../../test/support/jws-client.js';

// dns-persist-01 (draft-ietf-acme-dns-persist-01) through the API: the challenge object, the
// directory, validation against pebble-challtestsrv, and no reuse by later orders.
const persistOf = (authz: AuthorizationBody) => authz.challenges.find((c) => c.type === 'dns-persist-01')!;

describe('dns-persist-01 not configured', () => {
  let t: TestAcmeApp;
  useTestAcmeApp({}, (app) => {
    t = app;
  });

  it('is not offered, and the directory names no CAA identities', async () => {
    const client = await registeredClient(t);
    const { authzs } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'off.persist.test' }]);
    expect(authzs[0]!.challenges.map((c) => c.type)).toEqual(['http-01', 'dns-01', 'tls-alpn-01']);
    expect((await t.app.inject({ url: '/directory' })).json().meta.caaIdentities).toBeUndefined();
  });
});

describe('dns-persist-01 through the API', () => {
  let t: TestAcmeApp;
  const env = {
    CERTMINT_VALIDATION_DNS_PERSIST_ISSUER_DOMAIN_NAMES: 'CA.Persist.Test.,alt.persist.test',
    CERTMINT_VALIDATION_CAA_ENABLED: 'true',
    CERTMINT_VALIDATION_CAA_IDENTITIES: 'caa.persist.test,ca.persist.test',
  };
  useTestAcmeApp({ env }, (app) => {
    t = app;
  });

  it('lists the issuer domain names in meta.caaIdentities with the CAA identities, once each', async () => {
    expect((await t.app.inject({ url: '/directory' })).json().meta.caaIdentities).toEqual(['caa.persist.test', 'ca.persist.test', 'alt.persist.test']);
  });

  it('offers dns-persist-01 last, with issuer-domain-names and accounturi and no token; for wildcards too, never for IPs', async () => {
    const client = await registeredClient(t);
    const { authzs } = await orderWithAuthorizations(t, client, [
      { type: 'dns', value: 'Web.Persist.Test' },
      { type: 'dns', value: '*.wild.persist.test' },
      { type: 'ip', value: '10.20.30.40' },
    ]);
    expect(authzs.map((a) => a.challenges.map((c) => c.type))).toEqual([
      ['http-01', 'dns-01', 'tls-alpn-01', 'dns-persist-01'],
      ['dns-01', 'dns-persist-01'],
      ['http-01', 'tls-alpn-01'],
    ]);
    const challenge = persistOf(authzs[0]!);
    expect(challenge).toEqual({
      type: 'dns-persist-01',
      url: expect.stringMatching(/\/acme\/chall\//),
      status: 'pending',
      'issuer-domain-names': ['ca.persist.test', 'alt.persist.test'],
      accounturi: client.accountUrl,
    });
    const alone = await client.post(challenge.url, '');
    expect(alone.json()).toEqual(challenge);
  });

  it('validates from the standing record, checks CAA against the issuer names, and never reuses the authorization', async () => {
    const client = await registeredClient(t);
    await t.dns.addTxt('_validation-persist.app.persist.test', `ca.persist.test; accounturi=${client.accountUrl}`);
    // CAA naming only the dns-persist issuer name: accepted, as meta.caaIdentities says.
    await t.dns.addCaa('app.persist.test', [{ tag: 'issue', value: 'alt.persist.test' }]);
    const first = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'app.persist.test' }]);
    const res = await client.post(persistOf(first.authzs[0]!).url, {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ type: 'dns-persist-01', status: 'valid' });
    const { der } = await makeCsr(['app.persist.test']);
    const fin = await client.post(first.order.finalize, { csr: Buffer.from(der).toString('base64url') });
    expect(fin.json().status).toBe('valid');

    // The next order looks at the record again: a new, pending authorization.
    const second = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'app.persist.test' }]);
    expect(second.authzUrls[0]).not.toBe(first.authzUrls[0]);
    expect(second.authzs[0]!.status).toBe('pending');
    // Removing the record de-authorizes at once.
    await t.dns.clearTxt('_validation-persist.app.persist.test');
    const refused = await client.post(persistOf(second.authzs[0]!).url, {});
    expect(refused.json()).toMatchObject({
      status: 'invalid',
      error: {
        type: 'urn:ietf:params:acme:error:unauthorized',
        detail: 'no TXT record at _validation-persist.app.persist.test (nor at the 1 parent name looked at): add the dns-persist-01 record naming ca.persist.test and this account',
      },
    });
  });

  it('still reuses an authorization validated by dns-01', async () => {
    const client = await registeredClient(t);
    const first = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'classic.persist.test' }]);
    const dns01 = first.authzs[0]!.challenges.find((c) => c.type === 'dns-01')!;
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(await client.keyAuthorization(dns01.token!)).digest('base64url');
    await t.dns.addTxt('_acme-challenge.classic.persist.test', digest);
    await t.dns.addTxt('_validation-persist.classic.persist.test', `ca.persist.test; accounturi=${client.accountUrl}`);
    expect((await client.post(dns01.url, {})).json().status).toBe('valid');
    const second = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'classic.persist.test' }]);
    expect(second.authzUrls[0]).toBe(first.authzUrls[0]);
  });
});
