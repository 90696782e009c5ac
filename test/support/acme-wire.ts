import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { calculateJwkThumbprint, FlattenedSign } from 'jose';
import { makeCsr } from './csr.js';
import type { Http01Responder } from './http01-responder.js';
import { newAccountKey, type AccountKey } from './jws-client.js';

export interface WireResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface WireAccount {
  readonly key: AccountKey;
  readonly url: string;
}

export interface Problem {
  readonly type: string;
  readonly detail: string;
  readonly status?: number;
}

/** How requests leave: headers added to each (X-Forwarded-For, say) and the local address they come from. */
export interface WireOrigin {
  readonly headers?: Readonly<Record<string, string>>;
  readonly localAddress?: string;
}

/**
 * ACME over real HTTPS (or plain HTTP for a server without TLS), one request at a time and never retried (ACME client libraries retry 5xx
 * answers, which hides what a single request got while a test breaks the server's disk). Each
 * POST is signed with jose on a fresh nonce.
 */
export class AcmeWire {
  constructor(
    readonly baseUrl: string,
    private readonly rootPem: string,
    private readonly origin: WireOrigin = {},
  ) {}

  /** The same server, reached with other headers or from another local address. */
  from(origin: WireOrigin): AcmeWire {
    return new AcmeWire(this.baseUrl, this.rootPem, origin);
  }

  send(method: string, url: string, body?: string): Promise<WireResponse> {
    return new Promise((resolve, reject) => {
      const headers = { ...this.origin.headers, ...(body === undefined ? {} : { 'content-type': 'application/jose+json' }) };
      const request = url.startsWith('http:') ? httpRequest : httpsRequest;
      const options = { method, ca: this.rootPem, agent: false, timeout: 15_000, headers, ...(this.origin.localAddress ? { localAddress: this.origin.localAddress } : {}) };
      const req = request(url, options, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.once('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
      req.once('error', reject);
      req.end(body);
    });
  }

  async get(path: string): Promise<WireResponse> {
    return this.send('GET', `${this.baseUrl}${path}`);
  }

  /** A JWS POST (payload '' is POST-as-GET), by `kid` when given, else with the key's jwk. */
  async post(key: AccountKey, url: string, payload: unknown, kid?: string): Promise<WireResponse> {
    const nonce = (await this.send('HEAD', `${this.baseUrl}/acme/new-nonce`)).headers['replay-nonce'];
    const bytes = payload === '' ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(payload));
    const jws = await new FlattenedSign(bytes)
      .setProtectedHeader({ alg: key.alg, nonce: String(nonce), url, ...(kid ? { kid } : { jwk: key.jwk }) })
      .sign(key.privateKey);
    return this.send('POST', url, JSON.stringify(jws));
  }

  /** newAccount with a fresh key: the response, and the account when it was created (201). */
  async newAccount(): Promise<{ res: WireResponse; account?: WireAccount }> {
    const key = await newAccountKey();
    const res = await this.post(key, `${this.baseUrl}/acme/new-account`, { termsOfServiceAgreed: true, contact: ['mailto:ops@example.internal'] });
    return { res, ...(res.status === 201 ? { account: { key, url: String(res.headers.location) } } : {}) };
  }

  newOrder(account: WireAccount, names: readonly string[]): Promise<WireResponse> {
    return this.post(account.key, `${this.baseUrl}/acme/new-order`, { identifiers: names.map((value) => ({ type: 'dns', value })) }, account.url);
  }

  postAsGet(account: WireAccount, url: string): Promise<WireResponse> {
    return this.post(account.key, url, '', account.url);
  }

  /**
   * A new order for `names` taken to `ready` over http-01 (`responder` listens where the server
   * fetches challenges): its URL and finalize URL.
   */
  async readyOrder(account: WireAccount, names: readonly string[], responder: Http01Responder): Promise<{ url: string; finalize: string }> {
    const created = await this.newOrder(account, names);
    if (created.status !== 201) throw new Error(`newOrder: ${created.status} ${created.body}`);
    const order = JSON.parse(created.body) as { authorizations: string[]; finalize: string };
    const thumbprint = await calculateJwkThumbprint(account.key.jwk, 'sha256');
    for (const authzUrl of order.authorizations) {
      const authz = JSON.parse((await this.postAsGet(account, authzUrl)).body) as { challenges: { type: string; url: string; token: string }[] };
      const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
      responder.set(challenge.token, `${challenge.token}.${thumbprint}`);
      const answered = await this.post(account.key, challenge.url, {}, account.url);
      if (answered.status !== 200) throw new Error(`challenge: ${answered.status} ${answered.body}`);
      await this.until(account, authzUrl, 'valid');
    }
    const url = String(created.headers.location);
    await this.until(account, url, 'ready');
    return { url, finalize: order.finalize };
  }

  /** finalize with a CSR for `names` on a fresh P-256 key. */
  async finalize(account: WireAccount, finalizeUrl: string, names: readonly string[]): Promise<WireResponse> {
    const csr = await makeCsr(names);
    return this.post(account.key, finalizeUrl, { csr: Buffer.from(csr.der).toString('base64url') }, account.url);
  }

  private async until(account: WireAccount, url: string, status: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const res = await this.postAsGet(account, url);
      const now = (JSON.parse(res.body) as { status?: string }).status;
      if (now === status) return;
      if (now === 'invalid') throw new Error(`${url} became invalid: ${res.body}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${url} did not become ${status}`);
  }
}

/** The problem document of an error response. */
export function problemOf(res: WireResponse): Problem {
  return JSON.parse(res.body) as Problem;
}
