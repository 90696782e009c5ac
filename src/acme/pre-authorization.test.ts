import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { useTestAcmeApp } from '../../test/support/acme-app-suite.js';
import { makeCsr } from '../../test/support/csr.js';
import { registerWithEab, type EabKeyPair } from '../../test/support/eab-binding.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey, type AccountKey } from '../../test/support/jws-client.js';
import { postgresAvailable } from '../../test/support/postgres.js';
import { showCommand } from '../cli/commands/certs.js';

const ERR = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;

// "ci" pre-authorizes plain names under ci.internal; "fleet" wildcards too. Both deny one name.
const POLICIES = `
policies:
  ci:
    allow: ["*.ci.internal"]
    deny: ["secret.ci.internal"]
    preAuthorized: true
  fleet:
    allow: ["*.fleet.internal"]
    preAuthorized: true
    preAuthorizedWildcards: true
  plain:
    allow: ["*.plain.internal"]
`;

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

function suite(backend: 'sqlite' | 'postgres'): void {
  let t: TestAcmeApp;
  useTestAcmeApp({ backend, env: { CERTMINT_EAB_REQUIRED: 'true' }, configYaml: POLICIES, metrics: { countsCacheMs: 0 } }, (app) => {
    t = app;
  });

  /** A new EAB key of the policy and an account bound with it (RFC 8555 §7.3.4). */
  async function boundAccount(policy: string, o: { expiresInMs?: number } = {}) {
    const eab = await t.ra.createEabKey({ label: `preauth-${policy}`, policy, reusable: true, ...o }, 'operator:test');
    const key = await newAccountKey();
    const res = await register(key, eab);
    expect(res.res.statusCode, res.res.body).toBe(201);
    return { ...res, eab, key };
  }

  const register = (key: AccountKey, eab: EabKeyPair) => registerWithEab(t, key, eab);

  const newOrder = (client: InjectAcmeClient, names: string[]) =>
    client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });
  const authzIdsOf = (order: { authorizations: string[] }) => order.authorizations.map((u) => u.split('/').pop()!);

  async function preauthorizationCount(policy: string): Promise<number> {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith(`certmint_preauthorizations_total{policy="${policy}"}`));
    return Number(line?.split(' ').pop() ?? NaN);
  }

  it('makes an order for allowed names ready at once: valid authorizations, no challenges, audited, counted, and issues', async () => {
    const { client, eab } = await boundAccount('ci');
    const countBefore = await preauthorizationCount('ci');
    const res = await newOrder(client, ['db.ci.internal', 'web.ci.internal']);
    expect(res.statusCode, res.body).toBe(201);
    const order = res.json();
    expect(order.status).toBe('ready');
    const authzs = await t.ledger.getAuthorizations(authzIdsOf(order));
    for (const a of authzs) expect(a).toMatchObject({ status: 'valid', challenges: [], preAuthorizedEabKid: eab.kid });
    // RFC 8555 §7.1.4: an authorization with no challenge to answer still lists its (empty) challenges.
    const authzBody = (await client.post(order.authorizations[0], '')).json();
    expect(authzBody).toMatchObject({ status: 'valid', identifier: { type: 'dns', value: 'db.ci.internal' }, challenges: [] });
    expect(authzs[0]!.expires.getTime()).toBe(t.clock.now().getTime() + t.ra.deps.policy.authorizationLifetimeMs);
    expect(await t.ledger.auditTrail(`authorization:${authzs[0]!.id}`)).toMatchObject([
      { action: 'authorize', actor: `account:${client.accountUrl!.split('/').pop()}`, detail: { method: 'policy', eabKid: eab.kid, policy: 'ci', identifier: 'db.ci.internal', order: order.finalize.split('/').at(-2) } },
    ]);
    expect(await preauthorizationCount('ci')).toBe(countBefore + 2);

    const csr = await makeCsr(['db.ci.internal', 'web.ci.internal']);
    const finalized = await client.post(order.finalize, { csr: b64(csr.der) });
    expect(finalized.json(), finalized.body).toMatchObject({ status: 'valid' });
    const serial = String(finalized.json().certificate).split('/').pop()!;
    const shown = await showCommand(t.ledger, serial, {});
    expect(shown).toContain(`authorizedBy       db.ci.internal: policy (EAB key ${eab.kid})\n                   web.ci.internal: policy (EAB key ${eab.kid})\n`);
    expect(JSON.parse(await showCommand(t.ledger, serial, { json: true })).authorizedBy).toEqual([
      { identifier: 'db.ci.internal', method: 'policy', eabKid: eab.kid },
      { identifier: 'web.ci.internal', method: 'policy', eabKid: eab.kid },
    ]);
  });

  it('refuses names outside allow and denied names (deny wins) with rejectedIdentifier, as without pre-authorization', async () => {
    const { client } = await boundAccount('ci');
    const outside = await newOrder(client, ['db.other.internal']);
    expect(outside.json()).toMatchObject({ type: `${ERR}rejectedIdentifier`, detail: expect.stringContaining('not allowed') });
    const denied = await newOrder(client, ['secret.ci.internal']);
    expect(denied.json()).toMatchObject({ type: `${ERR}rejectedIdentifier`, detail: expect.stringContaining('denied') });
  });

  it('pre-authorizes a wildcard only when the policy says preAuthorizedWildcards; otherwise it gets a dns-01 challenge', async () => {
    const ci = await boundAccount('ci');
    const ciOrder = (await newOrder(ci.client, ['*.apps.ci.internal'])).json();
    expect(ciOrder.status).toBe('pending');
    const [pending] = await t.ledger.getAuthorizations(authzIdsOf(ciOrder));
    expect(pending).toMatchObject({ status: 'pending', wildcard: true, challenges: [{ type: 'dns-01' }] });
    expect(pending).not.toHaveProperty('preAuthorizedEabKid');

    const fleet = await boundAccount('fleet');
    const fleetOrder = (await newOrder(fleet.client, ['*.apps.fleet.internal', 'apps.fleet.internal'])).json();
    expect(fleetOrder.status).toBe('ready');
    const [wildcard] = await t.ledger.getAuthorizations(authzIdsOf(fleetOrder));
    expect(wildcard).toMatchObject({ status: 'valid', wildcard: true, challenges: [], preAuthorizedEabKid: fleet.eab.kid });
    expect(await t.ledger.auditTrail(`authorization:${wildcard!.id}`)).toMatchObject([{ detail: { identifier: '*.apps.fleet.internal', policy: 'fleet' } }]);
  });

  it('leaves accounts of a policy without preAuthorized to challenges; certs show names the challenge type', async () => {
    const { client } = await boundAccount('plain');
    const order = (await newOrder(client, ['x.plain.internal'])).json();
    expect(order.status).toBe('pending');
    expect((await t.ledger.getAuthorizations(authzIdsOf(order)))[0]!.challenges.length).toBeGreaterThan(0);
    const { serial } = await issueCertificate(t, client, ['y.plain.internal']);
    expect(await showCommand(t.ledger, serial, {})).toContain('authorizedBy       y.plain.internal: http-01\n');
  });

  it('never reuses a pre-authorized authorization: each order asks the EAB key again', async () => {
    const { client } = await boundAccount('ci');
    const first = (await newOrder(client, ['same.ci.internal'])).json();
    const second = (await newOrder(client, ['same.ci.internal'])).json();
    expect(authzIdsOf(second)[0]).not.toBe(authzIdsOf(first)[0]);
    expect(second.status).toBe('ready');
  });

  it('after eab revoke: no new account binds, and the bound account\'s new orders need challenges (its policy still applies)', async () => {
    const { client, eab } = await boundAccount('ci');
    const countBefore = await preauthorizationCount('ci');
    await t.ra.revokeEabKey(eab.kid, 'operator:test');
    const again = await register(await newAccountKey(), eab);
    expect(again.res.json()).toMatchObject({ type: `${ERR}unauthorized` });
    const order = (await newOrder(client, ['after.ci.internal'])).json();
    expect(order.status).toBe('pending');
    const [authz] = await t.ledger.getAuthorizations(authzIdsOf(order));
    expect(authz).toMatchObject({ status: 'pending' });
    expect(authz!.challenges.map((c) => c.type)).toEqual(['http-01', 'dns-01', 'tls-alpn-01']);
    expect(await preauthorizationCount('ci')).toBe(countBefore);
    expect((await newOrder(client, ['after.other.internal'])).json()).toMatchObject({ type: `${ERR}rejectedIdentifier` });
  });

  it('after the EAB key expires (test clock), new orders need challenges', async () => {
    const { client } = await boundAccount('ci', { expiresInMs: DAY });
    expect((await newOrder(client, ['soon.ci.internal'])).json().status).toBe('ready');
    t.clock.advance(DAY);
    const order = (await newOrder(client, ['late.ci.internal'])).json();
    expect(order.status).toBe('pending');
    expect((await t.ledger.getAuthorizations(authzIdsOf(order)))[0]!.challenges.length).toBe(3);
  });

  it('refuses to finalize an order made before its EAB key was revoked: unauthorized, naming the key, nothing issued', async () => {
    const { client, eab } = await boundAccount('ci');
    const order = (await newOrder(client, ['race.ci.internal'])).json();
    expect(order.status).toBe('ready');
    t.clock.advance(1000);
    const revoked = await t.ra.revokeEabKey(eab.kid, 'operator:test');
    const res = await client.post(order.finalize, { csr: b64((await makeCsr(['race.ci.internal'])).der) });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({
      type: `${ERR}unauthorized`,
      detail: expect.stringContaining(`EAB key ${eab.kid} was revoked at ${revoked.revokedAt!.toISOString()}`),
    });
    expect(res.json().detail).toContain('create a new order; its authorizations will need challenges');
    expect(await t.ledger.listCertificates({ now: t.clock.now(), identifier: 'race.ci.internal', limit: 10 })).toEqual([]);
    // Refused before the commit, the order stays ready but can never issue; a new order gets challenges.
    expect((await newOrder(client, ['race.ci.internal'])).json().status).toBe('pending');
  });
}

describe('pre-authorized orders after the operator takes preAuthorized off the policy', () => {
  let dir: string;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to finalize an order made while the policy pre-authorized (restart in between): unauthorized, naming the config key', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-preauth-'));
    const before = await startTestAcmeApp({ dir, env: { CERTMINT_EAB_REQUIRED: 'true' }, configYaml: POLICIES });
    let orders: { finalize: string }[];
    const key = await newAccountKey();
    try {
      const eab = await before.ra.createEabKey({ label: 'fleet', policy: 'fleet' }, 'operator:test');
      const { client, res } = await registerWithEab(before, key, eab);
      expect(res.statusCode).toBe(201);
      const post = (names: string[]) => client.post(`${before.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });
      orders = [(await post(['a.fleet.internal'])).json(), (await post(['*.w.fleet.internal'])).json()];
      for (const order of orders) expect(order).toMatchObject({ status: 'ready' });
    } finally {
      await before.close();
    }
    // The same data dir, the policies edited: fleet keeps its names but pre-authorizes no wildcard, then nothing.
    const configs = [
      ['fleet:\n    allow: ["*.fleet.internal"]\n    preAuthorized: true\n', orders[1]!, ['*.w.fleet.internal'], 'no longer pre-authorizes wildcards (policies.fleet.preAuthorizedWildcards is not true)'],
      ['fleet:\n    allow: ["*.fleet.internal"]\n', orders[0]!, ['a.fleet.internal'], 'no longer pre-authorizes names (policies.fleet.preAuthorized is not true)'],
    ] as const;
    for (const [policy, order, names, why] of configs) {
      const after = await startTestAcmeApp({ dir, env: { CERTMINT_EAB_REQUIRED: 'true' }, configYaml: `policies:\n  ${policy}` });
      try {
        const client = new InjectAcmeClient(after.app, after.baseUrl, key);
        expect((await client.register({ onlyReturnExisting: true })).statusCode).toBe(200);
        const res = await client.post(order.finalize, { csr: b64((await makeCsr([...names])).der) });
        expect(res.json()).toMatchObject({ type: `${ERR}unauthorized`, status: 403, detail: expect.stringContaining(why) });
        expect(await after.ledger.listCertificates({ now: after.clock.now(), limit: 10 })).toEqual([]);
      } finally {
        await after.close();
      }
    }
  }, 60_000);
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe.skipIf(backend === 'postgres' && !postgresAvailable())(`pre-authorized policies [${backend}]`, () => suite(backend));
}
