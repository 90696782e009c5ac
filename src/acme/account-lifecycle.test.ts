import { sign as nodeSign } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FlattenedSign, calculateJwkThumbprint } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { keyHashOfSpki, spkiOfJwk } from '../ra/keys.js';
import { InjectAcmeClient, newAccountKey, type AccountKey } from '../../test/support/jws-client.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';

let t: TestAcmeApp;
let db: Database.Database;
beforeAll(async () => {
  t = await startTestAcmeApp();
  // A second, read-only connection: what an operator's sqlite3 shell would see.
  db = new Database(path.join(t.dir, 'ledger.sqlite3'), { readonly: true, fileMustExist: true });
});
afterAll(async () => {
  db?.close();
  await t?.close();
});

const URN = 'urn:ietf:params:acme:error:';
type Res = Awaited<ReturnType<InjectAcmeClient['post']>>;
const keyChangeUrl = () => `${t.baseUrl}/acme/key-change`;

function expectProblem(res: Res, type: string, status: number, detail?: RegExp) {
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.json()).toMatchObject({ type: URN + type, status });
  expect(res.statusCode).toBe(status);
  if (detail) expect(res.json().detail).toMatch(detail);
}

async function account(key?: AccountKey): Promise<InjectAcmeClient> {
  const c = new InjectAcmeClient(t.app, t.baseUrl, key ?? (await newAccountKey()));
  expect((await c.register()).statusCode).toBe(201);
  return c;
}

const idOf = (client: InjectAcmeClient) => client.accountUrl!.split('/').pop()!;

/** What a failed request must leave untouched: every account row and every audit entry. */
function ledgerSnapshot() {
  return {
    accounts: db.prepare('SELECT id, key_thumbprint, jwk, status FROM accounts ORDER BY id').all(),
    audit: db.prepare('SELECT COUNT(*) AS n FROM audit_log').get(),
    authorizations: db.prepare('SELECT id, status FROM authorizations ORDER BY id').all(),
  };
}

interface InnerOptions {
  /** Signs with this key while the header carries `jwk` (default: newKey's own). */
  readonly signWith?: AccountKey;
  readonly header?: Record<string, unknown>;
  readonly omit?: readonly string[];
  readonly payload?: unknown;
}

/** The inner JWS of RFC 8555 §7.3.5: signed by the new key, jwk in the header, no nonce. */
async function innerJws(client: InjectAcmeClient, newKey: AccountKey, o: InnerOptions = {}) {
  const header: Record<string, unknown> = { alg: newKey.alg, jwk: newKey.jwk, url: keyChangeUrl(), ...o.header };
  for (const name of o.omit ?? []) delete header[name];
  const payload = o.payload ?? { account: client.accountUrl, oldKey: client.key.jwk };
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  const signer = o.signWith ?? newKey;
  if (signer.alg === 'RS256') {
    // By hand, as jws-client does: jose refuses RSA keys under 2048 bits, which a test must send.
    const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
    const payloadB64 = Buffer.from(bytes).toString('base64url');
    const signature = nodeSign('sha256', Buffer.from(`${protectedB64}.${payloadB64}`), signer.privateKey);
    return { protected: protectedB64, payload: payloadB64, signature: signature.toString('base64url') };
  }
  return new FlattenedSign(bytes).setProtectedHeader(header as never).sign(signer.privateKey);
}

async function keyChange(client: InjectAcmeClient, newKey: AccountKey, o: InnerOptions = {}) {
  return client.post(keyChangeUrl(), await innerJws(client, newKey, o));
}

/** A keyChange whose inner protected header is changed after signing (what no signer would produce). */
async function withInnerHeader(client: InjectAcmeClient, newKey: AccountKey, changes: Record<string, unknown>) {
  const jws = await innerJws(client, newKey);
  const header = JSON.parse(Buffer.from(jws.protected!, 'base64url').toString()) as Record<string, unknown>;
  return client.post(keyChangeUrl(), { ...jws, protected: Buffer.from(JSON.stringify({ ...header, ...changes })).toString('base64url') });
}

describe('keyChange (RFC 8555 §7.3.5)', () => {
  it('is in the directory, and answers a plain GET with 405', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/directory' })).json().keyChange).toBe(keyChangeUrl());
    expect((await t.app.inject({ method: 'GET', url: '/acme/key-change' })).statusCode).toBe(405);
  });

  it('refuses every malformed or unauthorized rollover and changes nothing', async () => {
    const client = await account();
    const other = await account();
    const newKey = await newAccountKey('ES256');
    const stranger = await newAccountKey('ES256');
    // Warm the verifier's key cache with the current key.
    expect((await client.post(client.accountUrl!, '')).statusCode).toBe(200);
    const before = ledgerSnapshot();

    const cases: [string, () => Promise<Res>, string, number, RegExp][] = [
      ['empty payload', () => client.post(keyChangeUrl(), ''), 'malformed', 400, /needs a payload/],
      ['payload not a JWS', () => client.post(keyChangeUrl(), { account: client.accountUrl }), 'malformed', 400, /signature/],
      ['inner signed by another key', () => keyChange(client, newKey, { signWith: stranger }), 'malformed', 400,
        /inner JWS signature verification failed/],
      ['inner url of another resource', () => keyChange(client, newKey, { header: { url: `${t.baseUrl}/acme/new-account` } }),
        'malformed', 400, /inner JWS "url"/],
      ['inner without url', () => keyChange(client, newKey, { omit: ['url'] }), 'malformed', 400, /inner JWS "url"/],
      ['inner with a nonce', async () => keyChange(client, newKey, { header: { nonce: await client.freshNonce() } }),
        'malformed', 400, /must not carry a "nonce"/],
      ['inner with kid', () => keyChange(client, newKey, { header: { kid: client.accountUrl } }), 'malformed', 400, /"kid"/],
      ['inner without jwk', () => keyChange(client, newKey, { omit: ['jwk'] }), 'malformed', 400, /"jwk"/],
      ['inner alg not accepted', () => withInnerHeader(client, newKey, { alg: 'HS256' }), 'badSignatureAlgorithm', 400,
        /inner JWS algorithm "HS256"/],
      ['inner with the unencoded payload option', () => withInnerHeader(client, newKey, { b64: false, crit: ['b64'] }), 'malformed', 400,
        /unencoded payload/],
      ['inner jwk with private parts', () => keyChange(client, newKey, { header: { jwk: { ...newKey.jwk, d: 'AAAA' } } }),
        'malformed', 400, /private key/],
      ['another account in "account"', () => keyChange(client, newKey, { payload: { account: other.accountUrl, oldKey: client.key.jwk } }),
        'malformed', 400, /is not the account that signed/],
      ['"account" missing', () => keyChange(client, newKey, { payload: { oldKey: client.key.jwk } }), 'malformed', 400, /"account"/],
      ['"oldKey" not the current key', () => keyChange(client, newKey, { payload: { account: client.accountUrl, oldKey: stranger.jwk } }),
        'unauthorized', 403, /"oldKey" is not the account's current key/],
      ['"oldKey" missing', () => keyChange(client, newKey, { payload: { account: client.accountUrl } }), 'malformed', 400, /"oldKey"/],
      ['new key = current key', () => keyChange(client, client.key), 'malformed', 400, /new key is the account's current key/],
    ];
    for (const [name, send, type, status, detail] of cases) {
      const res = await send();
      expect({ name, problem: res.json() }).toMatchObject({ name, problem: { type: URN + type, status } });
      expectProblem(res, type, status, detail);
    }
    expect(ledgerSnapshot()).toEqual(before);
    // Still the old key, and only it.
    expect((await client.post(client.accountUrl!, '')).statusCode).toBe(200);
    expect(await auditAfterCreation(t.ledger, `account:${idOf(client)}`)).toEqual([]);
  });

  it('holds a new key to the checks of a newAccount key (RSA under 2048 bits: badPublicKey)', async () => {
    const client = await account();
    const before = ledgerSnapshot();
    expectProblem(await keyChange(client, await newAccountKey('RS256', 1024)), 'badPublicKey', 400, /2048/);
    expect(ledgerSnapshot()).toEqual(before);
  });

  it('refuses to roll over to a key reported compromised', async () => {
    const client = await account();
    const compromised = await newAccountKey();
    // What revocation for keyCompromise by the key itself records (see the revocation tests).
    const writer = new Database(path.join(t.dir, 'ledger.sqlite3'));
    try {
      writer.prepare('INSERT INTO blocked_keys (key_hash, blocked_at, source_serial) VALUES (?, ?, ?)').run(
        keyHashOfSpki(spkiOfJwk(compromised.jwk as Record<string, unknown>)),
        Date.now(),
        '01',
      );
    } finally {
      writer.close();
    }
    const before = ledgerSnapshot();
    expectProblem(await keyChange(client, compromised), 'badPublicKey', 400, /reported compromised/);
    expect(ledgerSnapshot()).toEqual(before);
  });

  it('answers 409 with the Location of the account that already holds the new key', async () => {
    const client = await account();
    const holder = await account();
    const before = ledgerSnapshot();
    const res = await keyChange(client, holder.key);
    expectProblem(res, 'malformed', 409, /another account/);
    expect(res.headers.location).toBe(holder.accountUrl);
    expect(ledgerSnapshot()).toEqual(before);
  });

  it('rolls the key over: the old key is refused from then on, the new one signs everything', async () => {
    const client = await account(await newAccountKey('ES256'));
    const oldKey = client.key;
    // Same alg on purpose: a key cache keyed by account and alg alone would keep the old key valid.
    const newKey = await newAccountKey('ES256');
    expect((await client.post(client.accountUrl!, '')).statusCode).toBe(200);

    const res = await keyChange(client, newKey);
    expect(res.statusCode).toBe(200);
    expect(res.headers.location).toBe(client.accountUrl);
    expect(res.json()).toMatchObject({ status: 'valid' });

    const stored = await t.ledger.getAccount(idOf(client));
    expect(stored?.keyThumbprint).toBe(await calculateJwkThumbprint(newKey.jwk, 'sha256'));
    const audit = await auditAfterCreation(t.ledger, `account:${idOf(client)}`);
    expect(audit).toMatchObject([
      {
        actor: `account:${idOf(client)}`,
        action: 'account-key-change',
        detail: {
          oldKeyThumbprint: await calculateJwkThumbprint(oldKey.jwk, 'sha256'),
          newKeyThumbprint: await calculateJwkThumbprint(newKey.jwk, 'sha256'),
        },
      },
    ]);

    // The old key: its kid requests no longer verify, and newAccount knows no account for it.
    expectProblem(await client.post(client.accountUrl!, ''), 'malformed', 400, /signature verification failed/);
    expectProblem(await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'old.lifecycle.test' }] }),
      'malformed', 400, /signature verification failed/);
    expectProblem(
      await client.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined }),
      'accountDoesNotExist', 400,
    );

    // The new key: the same account, by kid and by newAccount lookup; validation uses its thumbprint.
    const renewed = new InjectAcmeClient(t.app, t.baseUrl, newKey);
    renewed.accountUrl = client.accountUrl;
    expect((await renewed.post(client.accountUrl!, '')).statusCode).toBe(200);
    const lookup = await renewed.post(`${t.baseUrl}/acme/new-account`, { onlyReturnExisting: true }, { kid: undefined });
    expect(lookup.statusCode).toBe(200);
    expect(lookup.headers.location).toBe(client.accountUrl);
    const order = await validateNames(t, renewed, ['rolled.lifecycle.test']);
    expect((await renewed.post(order.finalize.replace(/\/finalize$/, ''), '')).json().status).toBe('ready');

    // The old key is free again: the account may roll back to it, with the new key as oldKey.
    const back = await keyChange(renewed, oldKey);
    expect(back.statusCode).toBe(200);
    expect((await client.post(client.accountUrl!, '')).statusCode).toBe(200);
    expectProblem(await renewed.post(client.accountUrl!, ''), 'malformed', 400, /signature verification failed/);
  });

  it('rolls over to a key of another type (ES256 → EdDSA)', async () => {
    const client = await account(await newAccountKey('ES256'));
    const newKey = await newAccountKey('EdDSA');
    expect((await keyChange(client, newKey)).statusCode).toBe(200);
    const renewed = new InjectAcmeClient(t.app, t.baseUrl, newKey);
    renewed.accountUrl = client.accountUrl;
    expect((await renewed.post(client.accountUrl!, '')).json()).toMatchObject({ status: 'valid' });
    // The old ES256 key's requests no longer fit the account's (Ed25519) key at all.
    expectProblem(await client.post(client.accountUrl!, ''), 'badSignatureAlgorithm', 400, /does not fit the account key \(OKP\)/);
  });
});

describe('account deactivation (RFC 8555 §7.3.6)', () => {
  it('deactivates the account and its pending authorizations together; every later request is unauthorized', async () => {
    const client = await account();
    const order = await validateNames(t, client, ['done.deactivate.test']);
    const pending = (
      await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'pending.deactivate.test' }] })
    ).json();
    const [validUrl] = order.authorizations as string[];
    const [pendingUrl] = pending.authorizations as string[];
    expect((await client.post(pendingUrl!, '')).json().status).toBe('pending');

    const res = await client.post(client.accountUrl!, { status: 'deactivated' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'deactivated' });

    const id = (url: string) => url.split('/').pop()!;
    expect((await t.ledger.getAuthorization(id(pendingUrl!)))?.status).toBe('deactivated');
    expect((await t.ledger.getAuthorization(id(validUrl!)))?.status).toBe('valid');
    expect(await auditAfterCreation(t.ledger, `account:${idOf(client)}`)).toMatchObject([
      { actor: `account:${idOf(client)}`, action: 'account-deactivate', detail: { deactivatedAuthorizations: 1 } },
    ]);

    const before = ledgerSnapshot();
    for (const [url, payload] of [
      [client.accountUrl!, ''],
      [client.accountUrl!, { status: 'deactivated' }],
      [`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'again.deactivate.test' }] }],
      [pendingUrl!, ''],
      [`${t.baseUrl}/acme/key-change`, await innerJws(client, await newAccountKey())],
    ] as const) {
      expectProblem(await client.post(url, payload), 'unauthorized', 403, /is deactivated/);
    }
    // newAccount with the key finds the account and refuses it rather than making a new one.
    expectProblem(await client.post(`${t.baseUrl}/acme/new-account`, { termsOfServiceAgreed: true }, { kid: undefined }),
      'unauthorized', 403, /deactivated/);
    expect(ledgerSnapshot()).toEqual(before);
  });
});

describe('authorization deactivation (RFC 8555 §7.5.2)', () => {
  const newOrder = (client: InjectAcmeClient, names: string[]) =>
    client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) });

  it('deactivates a pending or a valid authorization: never reused, and its orders become invalid', async () => {
    const client = await account();
    const order = await validateNames(t, client, ['valid.authz.test']);
    const orderUrl = order.finalize.replace(/\/finalize$/, '');
    const [validUrl] = order.authorizations as string[];
    const pendingOrder = await newOrder(client, ['pending.authz.test']);
    const [pendingUrl] = pendingOrder.json().authorizations as string[];
    // Reused while pending or valid.
    expect((await newOrder(client, ['valid.authz.test'])).json().authorizations).toEqual([validUrl]);
    expect((await newOrder(client, ['pending.authz.test'])).json().authorizations).toEqual([pendingUrl]);

    const deactivated = await client.post(pendingUrl!, { status: 'deactivated' });
    expect(deactivated.statusCode).toBe(200);
    expect(deactivated.json()).toMatchObject({ status: 'deactivated', identifier: { type: 'dns', value: 'pending.authz.test' } });
    expect((await client.post(String(pendingOrder.headers.location), '')).json()).toMatchObject({
      status: 'invalid',
      error: { type: `${URN}unauthorized`, detail: 'the authorization for pending.authz.test is deactivated' },
    });
    const fresh = (await newOrder(client, ['pending.authz.test'])).json();
    expect(fresh.status).toBe('pending');
    expect(fresh.authorizations).not.toEqual([pendingUrl]);

    expect((await client.post(orderUrl, '')).json().status).toBe('ready');
    expect((await client.post(validUrl!, { status: 'deactivated' })).json().status).toBe('deactivated');
    expect((await client.post(orderUrl, '')).json().status).toBe('invalid');
    const reordered = (await newOrder(client, ['valid.authz.test'])).json();
    expect(reordered).toMatchObject({ status: 'pending' });
    expect(reordered.authorizations).not.toEqual([validUrl]);
    const finalize = await client.post(order.finalize, { csr: 'AAAA' });
    expectProblem(finalize, 'orderNotReady', 403);

    expect(await auditAfterCreation(t.ledger, `authorization:${pendingUrl!.split('/').pop()}`)).toMatchObject([
      { actor: `account:${idOf(client)}`, action: 'authorization-deactivate' },
    ]);
  });

  it('refuses other payloads, other accounts, settled and expired authorizations, changing nothing', async () => {
    const client = await account();
    const other = await account();
    const [pendingUrl] = (await newOrder(client, ['refuse.authz.test'])).json().authorizations as string[];
    const before = ledgerSnapshot();
    for (const payload of [{}, { status: 'valid' }, { status: 'invalid' }, { status: 'deactivated', identifier: 'x' }, { status: ['deactivated'] }]) {
      expectProblem(await client.post(pendingUrl!, payload), 'malformed', 400, /\{"status": "deactivated"\}/);
    }
    expectProblem(await other.post(pendingUrl!, { status: 'deactivated' }), 'unauthorized', 403, /another account/);
    expectProblem(await client.post(`${t.baseUrl}/acme/authz/nonexistent`, { status: 'deactivated' }), 'malformed', 404);
    expect(ledgerSnapshot()).toEqual(before);

    expect((await client.post(pendingUrl!, { status: 'deactivated' })).statusCode).toBe(200);
    const afterFirst = ledgerSnapshot();
    expectProblem(await client.post(pendingUrl!, { status: 'deactivated' }), 'malformed', 400, /is deactivated; only a pending or valid/);
    expect(ledgerSnapshot()).toEqual(afterFirst);

    const [expiringUrl] = (await newOrder(client, ['expired.authz.test'])).json().authorizations as string[];
    const now = t.clock.now();
    t.clock.advance(60 * 86_400_000);
    try {
      const beforeExpired = ledgerSnapshot();
      expectProblem(await client.post(expiringUrl!, { status: 'deactivated' }), 'malformed', 400, /is expired/);
      expect(ledgerSnapshot()).toEqual(beforeExpired);
    } finally {
      t.clock.set(now);
    }
  });
});
