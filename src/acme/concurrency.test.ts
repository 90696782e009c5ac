import path from 'node:path';
import Database from 'better-sqlite3';
import { FlattenedSign, calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';

const URN = 'urn:ietf:params:acme:error:';
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

let t: TestAcmeApp;
beforeAll(async () => {
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

async function account(): Promise<InjectAcmeClient> {
  const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  expect((await client.register()).statusCode).toBe(201);
  return client;
}

describe('concurrent requests', () => {
  it('ten concurrent finalize requests for one order issue exactly one certificate', async () => {
    const client = await account();
    const order = await validateNames(t, client, ['once.concurrency.test']);
    const csr = b64((await makeCsr(['once.concurrency.test'])).der);
    // Ten requests, each with its own fresh nonce, sent together.
    const bodies = await Promise.all(Array.from({ length: 10 }, async () => client.sign(order.finalize, { csr }, { nonce: await client.freshNonce() })));
    const results = await Promise.all(
      bodies.map((body) =>
        t.app.inject({ method: 'POST', url: client.path(order.finalize), headers: { 'content-type': 'application/jose+json' }, payload: JSON.stringify(body) }),
      ),
    );
    const issued = results.filter((r) => r.statusCode === 200 && r.json().status === 'valid');
    const refused = results.filter((r) => r.statusCode === 403);
    expect(issued.length + refused.length).toBe(10);
    expect(issued.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) expect(r.json()).toMatchObject({ type: `${URN}orderNotReady` });
    // Whatever each saw, they all point at the one certificate the ledger holds for the order.
    expect(new Set(issued.map((r) => r.json().certificate)).size).toBe(1);
    const db = new Database(path.join(t.dir, 'ledger.sqlite3'), { readonly: true });
    try {
      const orderId = String(order.finalize).split('/').at(-2);
      expect(db.prepare('SELECT COUNT(*) AS n FROM certificates WHERE order_id = ?').get(orderId)).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });

  it('ten concurrent requests with one nonce: exactly one is served, the rest get badNonce', async () => {
    const client = await account();
    const nonce = await client.freshNonce();
    const bodies = await Promise.all(Array.from({ length: 10 }, () => client.sign(client.accountUrl!, '', { nonce })));
    const results = await Promise.all(
      bodies.map((body) =>
        t.app.inject({ method: 'POST', url: client.path(client.accountUrl!), headers: { 'content-type': 'application/jose+json' }, payload: JSON.stringify(body) }),
      ),
    );
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    const bad = results.filter((r) => r.statusCode !== 200);
    expect(bad).toHaveLength(9);
    for (const r of bad) expect(r.json()).toMatchObject({ type: `${URN}badNonce`, status: 400 });
  });

  it('a keyChange and a deactivation sent together: exactly one wins, and the account shows that one', async () => {
    const outcomes = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const client = await account();
      const newKey = await newAccountKey();
      const keyChangeUrl = `${t.baseUrl}/acme/key-change`;
      const inner = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ account: client.accountUrl, oldKey: client.key.jwk })))
        .setProtectedHeader({ alg: newKey.alg, jwk: newKey.jwk, url: keyChangeUrl })
        .sign(newKey.privateKey);
      const [rollover, deactivation] = await Promise.all([
        client.sign(keyChangeUrl, inner, { nonce: await client.freshNonce() }),
        client.sign(client.accountUrl!, { status: 'deactivated' }, { nonce: await client.freshNonce() }),
      ]);
      const send = (url: string, body: unknown) =>
        t.app.inject({ method: 'POST', url: client.path(url), headers: { 'content-type': 'application/jose+json' }, payload: JSON.stringify(body) });
      // The deactivation follows the keyChange by 0 to 3 ms (they race: the keyChange has more to
      // check before it commits, so the deactivation usually wins) or by 200 ms (the keyChange wins).
      const keyChanging = send(keyChangeUrl, rollover);
      await new Promise((resolve) => setTimeout(resolve, [0, 0, 1, 1, 2, 3, 200, 200][round]));
      const [keyChanged, deactivated] = await Promise.all([keyChanging, send(client.accountUrl!, deactivation)]);
      const stored = (await t.ledger.getAccount(client.accountUrl!.split('/').pop()!))!;
      if (keyChanged.statusCode === 200) {
        expect(deactivated.statusCode, deactivated.body).toBeGreaterThanOrEqual(400);
        expect(stored).toMatchObject({ status: 'valid', keyThumbprint: await calculateJwkThumbprint(newKey.jwk, 'sha256') });
        outcomes.add('keyChange');
      } else {
        expect(deactivated.statusCode, `${keyChanged.body} / ${deactivated.body}`).toBe(200);
        expect(keyChanged.json().type).toMatch(/^urn:ietf:params:acme:error:/);
        expect(stored).toMatchObject({ status: 'deactivated', keyThumbprint: await calculateJwkThumbprint(client.key.jwk, 'sha256') });
        outcomes.add('deactivate');
      }
    }
    expect([...outcomes].sort()).toEqual(['deactivate', 'keyChange']);
  });
});
