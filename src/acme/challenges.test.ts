import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp, type TestAcmeAppOptions } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { makeCsr } from '../../test/support/csr.js';
import { orderWithAuthorizations, type AuthorizationBody, type ChallengeBody } from '../../test/support/issue-flow.js';
import { registeredClient, type InjectAcmeClient } from '../../test/support/jws-client.js';

const ERR = 'urn:ietf:params:acme:error:';

/** The authorization's challenge of `type`, which carries a token (RFC 8555 §8.3, §8.4; RFC 8737 §3). */
function challengeOf(authz: AuthorizationBody | undefined, type: string): ChallengeBody & { readonly token: string } {
  const challenge = authz?.challenges.find((c) => c.type === type);
  if (challenge?.token === undefined) throw new Error(`no ${type} challenge with a token in ${JSON.stringify(authz)}`);
  return { ...challenge, token: challenge.token };
}

async function finalize(t: TestAcmeApp, client: InjectAcmeClient, finalizeUrl: string, names: string[], ips: string[] = []) {
  const { der } = await makeCsr(names, { extraSans: ips.map((value) => ({ type: 'ip' as const, value })), ...(names.length ? {} : { commonName: null }) });
  const fin = await client.post(finalizeUrl, { csr: Buffer.from(der).toString('base64url') });
  expect(fin.json().status).toBe('valid');
  return new X509Certificate((await client.post(fin.json().certificate, '')).body);
}

describe('tls-alpn-01 through the API (RFC 8737, RFC 8738)', () => {
  let t: TestAcmeApp;
  useTestAcmeApp({}, (app) => {
    t = app;
  });

  it('issues for a name validated by tls-alpn-01; the certificate carries it lower case', async () => {
    const client = await registeredClient(t);
    const { order: o, authzs } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'Alpn.API.test' }]);
    const ch = challengeOf(authzs[0], 'tls-alpn-01');
    await t.tlsResponder.set({ type: 'dns', value: 'alpn.api.test' }, await client.keyAuthorization(ch.token));
    const res = await client.post(ch.url, {});
    expect(res.json()).toMatchObject({ type: 'tls-alpn-01', status: 'valid' });
    // The answer is built from the outcome recorded, not read back: it is what the ledger holds.
    expect((await client.post(ch.url, '')).json()).toEqual(res.json());
    expect(t.tlsResponder.seen.at(-1)).toBe('Alpn.API.test');
    const leaf = await finalize(t, client, o.finalize, ['Alpn.API.test']);
    expect(leaf.subjectAltName).toBe('DNS:alpn.api.test');
  });

  it("names an authorization's challenges by ids that begin with its own, each with a random part of its own", async () => {
    const client = await registeredClient(t);
    const { authzUrls, authzs } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'ids.api.test' }]);
    const authzId = authzUrls[0]?.split('/').at(-1) ?? '';
    const ids = (authzs[0]?.challenges ?? []).map((c) => c.url.split('/').at(-1) ?? '');
    expect(ids.length).toBeGreaterThan(1);
    // Issue 27: ids that sort together put an authorization's challenges on one page of the ledger's id index.
    for (const id of ids) {
      expect(id.slice(0, 8)).toBe(authzId.slice(0, 8));
      expect(id.slice(8)).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('issues for an IP address validated by tls-alpn-01 with its reverse-DNS name in SNI', async () => {
    const client = await registeredClient(t);
    const { order: o, authzs } = await orderWithAuthorizations(t, client, [{ type: 'ip', value: '127.0.0.1' }]);
    const ch = challengeOf(authzs[0], 'tls-alpn-01');
    await t.tlsResponder.set({ type: 'ip', value: '127.0.0.1' }, await client.keyAuthorization(ch.token));
    expect((await client.post(ch.url, {})).json().status).toBe('valid');
    expect(t.tlsResponder.seen.at(-1)).toBe('1.0.0.127.in-addr.arpa');
    expect((await finalize(t, client, o.finalize, [], ['127.0.0.1'])).subjectAltName).toBe('IP Address:127.0.0.1');
  });

  it('marks the authorization invalid with the problem on the challenge when the certificate is wrong', async () => {
    const client = await registeredClient(t);
    const { order: o, authzs } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'wrong.alpn.api.test' }]);
    const ch = challengeOf(authzs[0], 'tls-alpn-01');
    await t.tlsResponder.set({ type: 'dns', value: 'wrong.alpn.api.test' }, await client.keyAuthorization(ch.token), { critical: false });
    const res = await client.post(ch.url, {});
    expect(res.json()).toMatchObject({
      status: 'invalid',
      error: { type: `${ERR}unauthorized`, detail: expect.stringContaining('must be critical'), identifier: { type: 'dns', value: 'wrong.alpn.api.test' } },
    });
    expect((await client.post(o.authorizations[0]!, '')).json().status).toBe('invalid');
    expect((await client.post(ch.url, '')).json()).toEqual(res.json());
  });
});

describe('validation timing: concurrent, bounded, answered processing when slow', () => {
  let t: TestAcmeApp;
  useTestAcmeApp({ validationTimeoutMs: 5000, env: { CERTMINT_VALIDATION_ANSWER_WITHIN: '300ms' } }, (app) => {
    t = app;
  });

  it("validates an order's identifiers concurrently: neither answer is sent until both requests arrived", async () => {
    const client = await registeredClient(t);
    const { authzs } = await orderWithAuthorizations(t, client, [
      { type: 'dns', value: 'one.together.test' },
      { type: 'dns', value: 'two.together.test' },
    ]);
    const challenges = authzs.map((a) => challengeOf(a, 'http-01'));
    for (const ch of challenges) t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    t.responder.answerTogether(2);
    // If validations ran one after the other, the first would wait for a second request that
    // never comes, and end invalid when validation.timeout ran out.
    const posted = await Promise.all(challenges.map((ch) => client.post(ch.url, {})));
    const settled = await Promise.all(challenges.map(async (ch) => (await client.post(ch.url, '')).json().status));
    await t.ra.settled();
    const final = await Promise.all(challenges.map(async (ch) => (await client.post(ch.url, '')).json().status));
    expect(final).toEqual(['valid', 'valid']);
    expect(posted.map((r) => r.statusCode)).toEqual([200, 200]);
    expect(settled.every((s) => s === 'valid' || s === 'processing')).toBe(true);
  });

  it('answers processing with Retry-After when validation outlasts validation.answerWithin, then records the outcome', async () => {
    const client = await registeredClient(t);
    const { order: o, authzs } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: 'slow.timing.test' }]);
    const ch = challengeOf(authzs[0], 'http-01');
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    const before = t.responder.requests;
    const release = t.responder.hold();
    try {
      const res = await client.post(ch.url, {});
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ type: 'http-01', status: 'processing' });
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers.link).toContain(`<${o.authorizations[0]}>;rel="up"`);
      // The authorization stays pending while its challenge is processing (RFC 8555 §7.1.6).
      expect((await client.post(o.authorizations[0]!, '')).json().status).toBe('pending');
      // Asking again neither restarts nor duplicates the validation.
      expect((await client.post(ch.url, {})).json().status).toBe('processing');
    } finally {
      release();
    }
    await t.ra.settled();
    expect(t.responder.requests - before).toBe(1);
    const done = (await client.post(ch.url, '')).json();
    expect(done).toMatchObject({ status: 'valid', validated: expect.any(String) });
  });
});

describe('validation.testFailureRate (a Pebble-like test setting)', () => {
  it('at 1, fails every validation on purpose with a detail saying so; at the default 0, never', async () => {
    const failing = await startTestAcmeApp({ env: { CERTMINT_VALIDATION_TEST_FAILURE_RATE: '1' } });
    try {
      const client = await registeredClient(failing);
      const { authzs } = await orderWithAuthorizations(failing, client, [{ type: 'dns', value: 'flaky.test' }]);
      const ch = challengeOf(authzs[0], 'http-01');
      failing.responder.set(ch.token, await client.keyAuthorization(ch.token));
      const before = failing.responder.requests;
      expect((await client.post(ch.url, {})).json()).toMatchObject({
        status: 'invalid',
        error: { type: `${ERR}incorrectResponse`, detail: expect.stringContaining('validation.testFailureRate is 1') },
      });
      expect(failing.responder.requests).toBe(before);
    } finally {
      await failing.close();
    }
  });
});

describe('CAA (RFC 8659, RFC 8657) when validation.caa.enabled', () => {
  let t: TestAcmeApp;
  const options: TestAcmeAppOptions = {
    env: { CERTMINT_VALIDATION_CAA_ENABLED: 'true', CERTMINT_VALIDATION_CAA_IDENTITIES: 'certmint.test,ca.example.internal' },
  };
  useTestAcmeApp(options, (app) => {
    t = app;
  });

  async function validate(client: InjectAcmeClient, name: string) {
    const { authzs } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: name }]);
    const ch = challengeOf(authzs[0], 'http-01');
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    return (await client.post(ch.url, {})).json();
  }

  it('lists its identities in the directory meta.caaIdentities', async () => {
    const dir = (await t.app.inject({ method: 'GET', url: '/directory' })).json();
    expect(dir.meta.caaIdentities).toEqual(['certmint.test', 'ca.example.internal']);
  });

  it('validates a name whose CAA names this CA, refuses one whose CAA names another', async () => {
    const client = await registeredClient(t);
    await t.dns.addCaa('ours.caa.test', [{ tag: 'issue', value: 'ca.example.internal' }]);
    await t.dns.addCaa('theirs.caa.test', [{ tag: 'issue', value: 'other-ca.example' }]);
    expect((await validate(client, 'web.ours.caa.test')).status).toBe('valid');
    expect(await validate(client, 'web.theirs.caa.test')).toMatchObject({
      status: 'invalid',
      error: {
        type: `${ERR}caa`,
        detail: 'CAA record for theirs.caa.test prevents issuance: no issue property names this CA (certmint.test, ca.example.internal)',
      },
    });
  });

  it('honours accounturi: the named account gets through, another does not', async () => {
    const owner = await registeredClient(t);
    const other = await registeredClient(t);
    await t.dns.addCaa('pinned.caa.test', [{ tag: 'issue', value: `certmint.test; accounturi=${owner.accountUrl}` }]);
    expect((await validate(owner, 'pinned.caa.test')).status).toBe('valid');
    expect(await validate(other, 'pinned.caa.test')).toMatchObject({
      status: 'invalid',
      error: { type: `${ERR}caa`, detail: expect.stringContaining(`limits issuance to account ${owner.accountUrl}`) },
    });
  });

  it('checks CAA again at finalize when a reused authorization was validated more than validation.caa.recheckAfter (7h) ago', async () => {
    const client = await registeredClient(t);
    const name = 'reuse.caa.test';
    const allow = async (issuer: string) => {
      await t.dns.clearCaa(name);
      await t.dns.addCaa(name, [{ tag: 'issue', value: issuer }]);
    };
    await allow('certmint.test');
    expect((await validate(client, name)).status).toBe('valid');
    const readyOrder = async () => {
      const { order: o } = await orderWithAuthorizations(t, client, [{ type: 'dns', value: name }]);
      expect(o.status).toBe('ready'); // the valid authorization is reused, no new validation
      return o;
    };
    const issued = async () => (await t.ledger.listCertificates({ now: t.clock.now(), identifier: name, limit: 100 })).length;
    const finalizeWithCsr = async (finalizeUrl: string) => {
      const { der } = await makeCsr([name]);
      return client.post(finalizeUrl, { csr: Buffer.from(der).toString('base64url') });
    };

    // The zone stops allowing certmint. Within 7 hours of the validation, the validation's own CAA check stands.
    await allow('other-ca.example');
    t.clock.advance(6 * 3_600_000);
    expect((await finalizeWithCsr((await readyOrder()).finalize)).json().status).toBe('valid');
    expect(await issued()).toBe(1);

    // Past 7 hours, finalize checks again and refuses; nothing is issued and the order stays ready.
    t.clock.advance(3_600_000 + 60_000);
    const stale = await readyOrder();
    const refused = await finalizeWithCsr(stale.finalize);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({
      type: `${ERR}caa`,
      status: 403,
      identifier: { type: 'dns', value: name },
      detail:
        'CAA checked again at finalize (the authorization was validated 7 h ago): CAA record for reuse.caa.test prevents issuance: no issue property names this CA (certmint.test, ca.example.internal)',
    });
    expect(refused.headers['replay-nonce']).toBeDefined();
    expect(await issued()).toBe(1);
    const orderUrl = stale.finalize.replace(/\/finalize$/, '');
    expect((await client.post(orderUrl, '')).json().status).toBe('ready');

    // Once the zone allows certmint again, the same order is finalized.
    await allow('ca.example.internal');
    expect((await finalizeWithCsr(stale.finalize)).json().status).toBe('valid');
    expect(await issued()).toBe(2);
  });

  it('honours validationmethods', async () => {
    const client = await registeredClient(t);
    await t.dns.addCaa('methods.caa.test', [{ tag: 'issue', value: 'certmint.test; validationmethods=dns-01' }]);
    expect(await validate(client, 'methods.caa.test')).toMatchObject({
      status: 'invalid',
      error: { type: `${ERR}caa`, detail: expect.stringContaining('does not allow the validation method http-01') },
    });
  });
});
