import { withoutTrailingSlashes } from '../core/trailing-slashes.js';

/**
 * Every URL the ACME API hands out, built from server.baseUrl (the URL clients use, which behind a
 * TLS-terminating proxy is the proxy's). Route paths are these paths under baseUrl's path prefix.
 */
export class AcmeUrls {
  readonly origin: string;
  readonly prefix: string;

  constructor(readonly baseUrl: string) {
    const u = new URL(baseUrl);
    this.origin = u.origin;
    this.prefix = withoutTrailingSlashes(u.pathname);
  }

  get directory(): string {
    return `${this.baseUrl}/directory`;
  }
  get newNonce(): string {
    return `${this.baseUrl}/acme/new-nonce`;
  }
  get newAccount(): string {
    return `${this.baseUrl}/acme/new-account`;
  }
  get newOrder(): string {
    return `${this.baseUrl}/acme/new-order`;
  }
  get revokeCert(): string {
    return `${this.baseUrl}/acme/revoke-cert`;
  }
  get keyChange(): string {
    return `${this.baseUrl}/acme/key-change`;
  }
  /** RFC 9773 §4: GET <renewalInfo>/<certID>. */
  get renewalInfo(): string {
    return `${this.baseUrl}/acme/renewal-info`;
  }
  get roots(): string {
    return `${this.baseUrl}/roots.pem`;
  }
  get crl(): string {
    return `${this.baseUrl}/crl`;
  }
  get intermediate(): string {
    return `${this.baseUrl}/intermediate.der`;
  }
  get accountPrefix(): string {
    return `${this.baseUrl}/acme/acct/`;
  }
  account(id: string): string {
    return `${this.accountPrefix}${id}`;
  }
  order(id: string): string {
    return `${this.baseUrl}/acme/order/${id}`;
  }
  finalize(id: string): string {
    return `${this.baseUrl}/acme/order/${id}/finalize`;
  }
  authorization(id: string): string {
    return `${this.baseUrl}/acme/authz/${id}`;
  }
  challenge(id: string): string {
    return `${this.baseUrl}/acme/chall/${id}`;
  }
  /** Chain 0: the certificate URL of the order; n >= 1: its alternate chain n (RFC 8555 §7.4.2). */
  certificate(serial: string, chain = 0): string {
    return chain === 0 ? `${this.baseUrl}/acme/cert/${serial}` : `${this.baseUrl}/acme/cert/${serial}/${chain}`;
  }
  /** The absolute URL a request was made to, as the client saw it (for the JWS "url" check). */
  requestUrl(rawUrl: string): string {
    return this.origin + rawUrl;
  }
}
