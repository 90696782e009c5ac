import { isIPv4, isIPv6 } from 'node:net';
import { withoutTrailingSlashes } from '../core/trailing-slashes.js';
import type { ConfigInput } from './schema.js';

/** publication.* resolved: where the plain-HTTP listener binds, and the URL new certificates name. */
export interface PublicationConfig {
  /** The plain-HTTP listener of the publication paths; undefined: none (server.listen alone). */
  readonly listen: { readonly host: string; readonly port: number } | undefined;
  /**
   * http://… without a trailing slash: new certificates name their CRL and issuer under it.
   * Undefined: they name server.baseUrl, as before publication existed.
   */
  readonly baseUrl: string | undefined;
}

/** 0.0.0.0, ::, [::0]…: an address to bind, never one a relying party can fetch from. */
function isWildcard(host: string): boolean {
  if (isIPv4(host)) return host === '0.0.0.0';
  // A zone id ("fe80::1%eth0") is no wildcard, and no URL may carry one (resolvePublication refuses it).
  return isIPv6(host) && !host.includes('%') && new URL(`http://[${host}]`).hostname === '[::]';
}

/**
 * publication.listen and publication.baseUrl, checked. `parseListen` is server.listen's parser
 * (same syntax); `fail` throws the caller's ConfigError with the message, which names the key.
 */
export function resolvePublication(
  p: ConfigInput['publication'],
  server: { readonly host: string; readonly port: number },
  parseListen: (key: string, value: string) => { host: string; port: number },
  fail: (message: string) => never,
): PublicationConfig {
  const listenText = p.listen.trim();
  const listen = listenText === '' ? undefined : parseListen('publication.listen', listenText);
  if (listen && listen.port === 0) fail(`publication.listen "${listenText}" must name a port (1-65535): certificates carry its URL`);
  if (listen && listen.port === server.port && (listen.host === server.host || isWildcard(listen.host) || isWildcard(server.host))) {
    fail(`publication.listen "${listenText}" is server.listen's address and port: give the plain-HTTP listener a port of its own (e.g. 80 or 8080)`);
  }
  const text = p.baseUrl.trim();
  if (text === '') {
    if (!listen) return { listen: undefined, baseUrl: undefined };
    if (isWildcard(listen.host) || listen.host.includes('%')) {
      fail(
        `publication.listen "${listenText}" binds ${isWildcard(listen.host) ? 'every address' : 'a link-local address'}, which is no URL relying parties can fetch: ` +
          'set publication.baseUrl to the http:// URL they reach this listener at (e.g. http://pki.example.internal)',
      );
    }
    const host = isIPv6(listen.host) ? `[${listen.host}]` : listen.host;
    return { listen, baseUrl: withoutTrailingSlashes(new URL(`http://${host}:${listen.port}`).href) };
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return fail(`publication.baseUrl "${text}" is not a URL: write http://host[:port][/path]`);
  }
  if (u.protocol !== 'http:') {
    fail(`publication.baseUrl "${text}" must start with http://, not ${u.protocol}//: relying parties fetch CRLs and issuer certificates without TLS (many refuse https:// there)`);
  }
  if (u.search !== '' || u.hash !== '' || text.includes('?') || text.includes('#')) {
    fail(`publication.baseUrl "${text}" must not have a query or fragment: certificates name <baseUrl>/crl and <baseUrl>/intermediate.der under it`);
  }
  if (u.username !== '' || u.password !== '') fail(`publication.baseUrl must not carry a user name or password: relying parties fetch anonymously`);
  return { listen, baseUrl: u.origin + withoutTrailingSlashes(u.pathname) };
}
