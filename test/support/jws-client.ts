import { generateKeyPairSync, createHash, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { FlattenedSign, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export type AccountKeyAlg = 'ES256' | 'ES384' | 'RS256' | 'EdDSA';

export interface AccountKey {
  readonly alg: AccountKeyAlg;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}

export async function newAccountKey(alg: AccountKeyAlg = 'ES256', rsaBits = 2048): Promise<AccountKey> {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: rsaBits })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' });
  return { alg, privateKey: pair.privateKey, jwk: await exportJWK(pair.publicKey) };
}

export interface SignOptions {
  readonly key: AccountKey;
  /** Account URL; omitted → sign with the jwk. */
  readonly kid?: string;
  readonly nonce?: string;
  readonly url?: string;
  readonly extraHeader?: Record<string, unknown>;
  readonly alg?: string;
}

/**
 * A test ACME client that speaks to a fastify app through inject(): real JWS signed with jose,
 * real nonces from the server. It exposes each step so route tests can break one on purpose.
 */
export class InjectAcmeClient {
  accountUrl: string | undefined;
  /** The client's address as the server sees it (inject's remoteAddress); default 127.0.0.1. */
  remoteAddress: string | undefined;
  private nonce: string | undefined;

  constructor(
    readonly app: FastifyInstance,
    readonly baseUrl: string,
    readonly key: AccountKey,
  ) {}

  path(url: string): string {
    return url.startsWith(this.baseUrl) ? url.slice(new URL(this.baseUrl).origin.length) : url;
  }

  async freshNonce(): Promise<string> {
    const res = await this.app.inject({
      method: 'HEAD',
      url: this.path(`${this.baseUrl}/acme/new-nonce`),
      ...(this.remoteAddress ? { remoteAddress: this.remoteAddress } : {}),
    });
    return String(res.headers['replay-nonce']);
  }

  async sign(url: string, payload: unknown, o: Partial<SignOptions> = {}): Promise<Record<string, unknown>> {
    const key = o.key ?? this.key;
    const kid = 'kid' in o ? o.kid : this.accountUrl;
    const nonce = o.nonce ?? this.nonce ?? (await this.freshNonce());
    this.nonce = undefined;
    const header: Record<string, unknown> = {
      alg: o.alg ?? key.alg,
      nonce,
      url: o.url ?? url,
      ...(kid ? { kid } : { jwk: key.jwk }),
      ...o.extraHeader,
    };
    const bytes = payload === '' ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    if (key.alg === 'RS256') {
      // Signed by hand: jose refuses to sign with RSA keys under 2048 bits, which tests need to send.
      const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
      const payloadB64 = Buffer.from(bytes).toString('base64url');
      const signature = nodeSign('sha256', Buffer.from(`${protectedB64}.${payloadB64}`), key.privateKey);
      return { protected: protectedB64, payload: payloadB64, signature: signature.toString('base64url') };
    }
    return (await new FlattenedSign(bytes).setProtectedHeader(header as never).sign(key.privateKey)) as unknown as Record<
      string,
      unknown
    >;
  }

  /** POST a signed request; payload '' is POST-as-GET. */
  async post(url: string, payload: unknown, o: Partial<SignOptions> = {}) {
    // A nonce the client kept from an earlier response may have expired while the test moved the
    // clock: like every ACME client (RFC 8555 §6.5), retry such a badNonce once with the fresh
    // nonce the error carries. A nonce the test chose itself is sent once, as chosen.
    const kept = o.nonce === undefined && this.nonce !== undefined;
    const res = await this.postOnce(url, payload, o);
    if (kept && res.statusCode === 400 && res.json<{ type?: string }>().type === 'urn:ietf:params:acme:error:badNonce') {
      return this.postOnce(url, payload, o);
    }
    return res;
  }

  private async postOnce(url: string, payload: unknown, o: Partial<SignOptions>) {
    const body = await this.sign(url, payload, o);
    const res = await this.app.inject({
      method: 'POST',
      url: this.path(url),
      headers: { 'content-type': 'application/jose+json' },
      payload: JSON.stringify(body),
      ...(this.remoteAddress ? { remoteAddress: this.remoteAddress } : {}),
    });
    const n = res.headers['replay-nonce'];
    if (typeof n === 'string') this.nonce = n;
    return res;
  }

  async register(payload: Record<string, unknown> = { termsOfServiceAgreed: true }) {
    const res = await this.post(`${this.baseUrl}/acme/new-account`, payload, { kid: undefined });
    if (res.statusCode === 201 || res.statusCode === 200) this.accountUrl = String(res.headers.location);
    return res;
  }

  /** The client's side of RFC 8555 §8.1, computed from its own key. */
  async keyAuthorization(token: string): Promise<string> {
    return `${token}.${await calculateJwkThumbprint(this.key.jwk, 'sha256')}`;
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A client with a new account key, registered (terms agreed): what most route tests start from. */
export async function registeredClient(target: { readonly app: FastifyInstance; readonly baseUrl: string }): Promise<InjectAcmeClient> {
  const client = new InjectAcmeClient(target.app, target.baseUrl, await newAccountKey());
  await client.register();
  return client;
}
