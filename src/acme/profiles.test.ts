import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { CLIENT_AUTH, SERVER_AUTH } from '../../test/support/issued-certificate.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

const ERR = 'urn:ietf:params:acme:error:';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function client(t: TestAcmeApp): Promise<InjectAcmeClient> {
  const c = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await c.register()).statusCode).toBe(201);
  return c;
}

/** newOrder with the profile, every challenge answered, finalize with a CSR for the names. */
async function issue(t: TestAcmeApp, c: InjectAcmeClient, names: string[], extra: Record<string, unknown>, csr: Parameters<typeof makeCsr>[1] = {}) {
  const order = await validateNames(t, c, names, extra);
  const { der } = await makeCsr(names, csr);
  const fin = await c.post(order.finalize, { csr: Buffer.from(der).toString('base64url') });
  return { order, fin };
}

async function leafOf(c: InjectAcmeClient, fin: { json(): { certificate: string } }): Promise<X509Certificate> {
  return new X509Certificate((await c.post(fin.json().certificate, '')).body);
}

const lifetimeMs = (leaf: X509Certificate) => new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();

describe('certificate profiles (draft-ietf-acme-profiles), built in', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp();
  });
  afterAll(async () => t?.close());

  it('lists default, shortlived and mtls with descriptions in the directory meta.profiles', async () => {
    const meta = (await t.app.inject({ method: 'GET', url: '/directory' })).json().meta;
    expect(Object.keys(meta.profiles)).toEqual(['default', 'shortlived', 'mtls']);
    expect(meta.profiles.shortlived).toMatch(/24 hours/);
  });

  it('issues shortlived: echoed in the order, 24 hours, serverAuth only', async () => {
    const c = await client(t);
    const { order, fin } = await issue(t, c, ['short.profiles.test'], { profile: 'shortlived' });
    expect(order.profile).toBe('shortlived');
    expect(fin.json()).toMatchObject({ status: 'valid', profile: 'shortlived' });
    const leaf = await leafOf(c, fin);
    expect(lifetimeMs(leaf)).toBe(DAY);
    expect(leaf.keyUsage).toEqual([SERVER_AUTH]);
    const shown = await t.ledger.getCertificate(leaf.serialNumber.toLowerCase());
    expect(shown?.profile).toBe('shortlived');
  });

  it('issues mtls for 7 days with client and server authentication; no profile means default (45 days, both)', async () => {
    const c = await client(t);
    const mtls = await leafOf(c, (await issue(t, c, ['mtls.profiles.test'], { profile: 'mtls' })).fin);
    expect(lifetimeMs(mtls)).toBe(7 * DAY);
    expect(mtls.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
    const { order, fin } = await issue(t, c, ['plain.profiles.test'], {});
    expect(order.profile).toBeUndefined();
    const plain = await leafOf(c, fin);
    expect(lifetimeMs(plain)).toBe(45 * DAY);
    expect(plain.keyUsage).toEqual([SERVER_AUTH, CLIENT_AUTH]);
  });

  it('refuses an unknown profile (invalidProfile) and a non-string one (malformed), creating no order', async () => {
    const c = await client(t);
    const newOrder = (profile: unknown) => c.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'x.profiles.test' }], profile });
    expect((await newOrder('gold')).json()).toMatchObject({
      type: `${ERR}invalidProfile`,
      detail: 'there is no profile "gold"; this server offers: default, shortlived, mtls',
    });
    expect((await newOrder(7)).json().type).toBe(`${ERR}malformed`);
    expect((await newOrder('__proto__')).json().type).toBe(`${ERR}invalidProfile`);
    const orders = await c.post(`${c.accountUrl}/orders`, '');
    expect(orders.json().orders).toEqual([]);
  });

  it("honours notAfter only within the profile's lifetime", async () => {
    const c = await client(t);
    const notAfter = new Date(t.clock.now().getTime() + 2 * DAY).toISOString();
    const res = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'y.profiles.test' }], profile: 'shortlived', notAfter });
    expect(res.json()).toMatchObject({ type: `${ERR}malformed`, detail: expect.stringContaining('maximum of 1 days') });
    const inside = new Date(t.clock.now().getTime() + 12 * HOUR).toISOString();
    const ok = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'y.profiles.test' }], profile: 'shortlived', notAfter: inside });
    expect(ok.statusCode).toBe(201);
  });
});

describe('profiles from the config, restricted by a policy', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp({
      configYaml: `
profiles:
  clientonly:
    description: Client certificates for workloads, EC keys only, no subject CN
    lifetime: 2d
    usage: client
    keyTypes: [ecdsa]
    commonName: false
policies:
  default:
    profiles: [default, clientonly]
`,
    });
  });
  afterAll(async () => t?.close());

  it('keeps the built-in profiles and adds the configured one', async () => {
    const meta = (await t.app.inject({ method: 'GET', url: '/directory' })).json().meta;
    expect(Object.keys(meta.profiles)).toEqual(['default', 'shortlived', 'mtls', 'clientonly']);
  });

  it('issues clientonly: clientAuth only, 2 days, no CN even when the CSR has one', async () => {
    const c = await client(t);
    const { fin } = await issue(t, c, ['w1.clientonly.test'], { profile: 'clientonly' }, { commonName: 'w1.clientonly.test' });
    const leaf = await leafOf(c, fin);
    expect(leaf.keyUsage).toEqual([CLIENT_AUTH]);
    expect(lifetimeMs(leaf)).toBe(2 * DAY);
    expect(leaf.subject ?? '').toBe('');
  });

  it("refuses a key type the profile does not accept at finalize (badCSR)", async () => {
    const c = await client(t);
    const { fin } = await issue(t, c, ['w2.clientonly.test'], { profile: 'clientonly' }, { kind: 'rsa-2048' });
    expect(fin.json()).toMatchObject({ type: `${ERR}badCSR`, detail: 'the CSR public key is refused: profile "clientonly" accepts ecdsa keys, not rsa' });
  });

  it('refuses a profile the policy does not allow', async () => {
    const c = await client(t);
    const res = await c.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'z.clientonly.test' }], profile: 'mtls' });
    expect(res.json()).toMatchObject({
      type: `${ERR}invalidProfile`,
      detail: 'policy "default" does not allow profile "mtls" (allowed: default, clientonly)',
    });
  });
});
