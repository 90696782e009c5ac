import { KeyObject } from 'node:crypto';
import { exportJWK } from 'jose';
import type { TestAcmeApp } from './acme-app.js';
import { makeCsr } from './csr.js';
import type { AccountKey, InjectAcmeClient } from './jws-client.js';

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

/** newOrder for the names and answers every http-01 challenge; returns the order body. */
export async function validateNames(
  t: TestAcmeApp,
  client: InjectAcmeClient,
  names: readonly string[],
  extra: Record<string, unknown> = {},
) {
  const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })), ...extra });
  for (const authzUrl of res.json().authorizations as string[]) {
    const ch = (await client.post(authzUrl, '')).json().challenges[0];
    t.responder.set(ch.token, await client.keyAuthorization(ch.token));
    await client.post(ch.url, {});
  }
  return res.json();
}

/** The whole flow: returns the certificate DER, its serial and its key (also as an ACME signing key). */
export async function issueCertificate(
  t: TestAcmeApp,
  client: InjectAcmeClient,
  names: readonly string[],
  o: { keys?: CryptoKeyPair; notAfter?: Date; replaces?: string } = {},
) {
  const order = await validateNames(t, client, names, { ...(o.notAfter ? { notAfter: o.notAfter.toISOString() } : {}), ...(o.replaces ? { replaces: o.replaces } : {}) });
  const csr = await makeCsr(names, o.keys ? { keys: o.keys } : {});
  const finalize = await client.post(order.finalize, { csr: b64(csr.der) });
  const pem = (await client.post(finalize.json().certificate, '')).body;
  const der = Buffer.from(pem.split('-----END CERTIFICATE-----')[0]!.replace(/-----BEGIN CERTIFICATE-----|\s/g, ''), 'base64');
  const certKey: AccountKey = { alg: 'ES256', privateKey: KeyObject.from(csr.keys.privateKey), jwk: await exportJWK(csr.keys.publicKey) };
  return { der, pem, serial: String(finalize.json().certificate).split('/').pop()!, certKey, keys: csr.keys, finalize };
}

/** A challenge object as the server sends it (RFC 8555 §8); dns-persist-01 carries no token. */
export interface ChallengeBody {
  readonly type: string;
  readonly url: string;
  readonly status: string;
  readonly token?: string;
  readonly error?: { readonly type: string; readonly detail: string };
}

/** An authorization object as the server sends it (RFC 8555 §7.1.4). */
export interface AuthorizationBody {
  readonly status: string;
  readonly identifier: { readonly type: string; readonly value: string };
  readonly challenges: readonly ChallengeBody[];
}

/** An order object as the server sends it (RFC 8555 §7.1.3). */
export interface OrderBody {
  readonly status: string;
  readonly finalize: string;
  readonly authorizations: readonly string[];
}

/** newOrder (201 expected); returns the order, its authorization URLs and each authorization (POST-as-GET). */
export async function orderWithAuthorizations(
  t: Pick<TestAcmeApp, 'baseUrl'>,
  client: InjectAcmeClient,
  identifiers: readonly { readonly type: string; readonly value: string }[],
): Promise<{ order: OrderBody; authzUrls: readonly string[]; authzs: AuthorizationBody[] }> {
  const res = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers });
  if (res.statusCode !== 201) throw new Error(`newOrder answered ${res.statusCode}: ${res.body}`);
  const order = res.json() as OrderBody;
  const authzs = await Promise.all(order.authorizations.map(async (u) => (await client.post(u, '')).json() as AuthorizationBody));
  return { order, authzUrls: order.authorizations, authzs };
}
