import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'certmint-publication-'));

/** loadConfig with CERTMINT_PUBLICATION_* (the variables an operator sets), or the message it refuses with. */
function publication(env: Record<string, string>) {
  return loadConfig({ env }).publication;
}
function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('publication.listen and publication.baseUrl', () => {
  it('are off by default: no plain-HTTP listener, certificates keep naming server.baseUrl', () => {
    expect(publication({})).toEqual({ listen: undefined, baseUrl: undefined });
  });

  it('derive the base URL from a listen address that names a host', () => {
    expect(publication({ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:8080' })).toEqual({ listen: { host: '127.0.0.1', port: 8080 }, baseUrl: 'http://127.0.0.1:8080' });
    expect(publication({ CERTMINT_PUBLICATION_LISTEN: '[::1]:8080' })).toEqual({ listen: { host: '::1', port: 8080 }, baseUrl: 'http://[::1]:8080' });
    // Port 80 is http's own: the URL certificates carry has none.
    expect(publication({ CERTMINT_PUBLICATION_LISTEN: 'pki.example.internal:80' }).baseUrl).toBe('http://pki.example.internal');
  });

  it('keep a configured base URL (from YAML too), without a trailing slash; with no listen it names a proxy', () => {
    const yaml = path.join(dir, 'p.yaml');
    writeFileSync(yaml, 'publication:\n  listen: "[::]:8080"\n  baseUrl: http://pki.example.internal/certmint/\n');
    expect(loadConfig({ file: yaml, env: {} }).publication).toEqual({ listen: { host: '::', port: 8080 }, baseUrl: 'http://pki.example.internal/certmint' });
    expect(publication({ CERTMINT_PUBLICATION_BASE_URL: 'http://pki.example.internal' })).toEqual({ listen: undefined, baseUrl: 'http://pki.example.internal' });
  });

  it('refuse a wildcard listen address without a base URL, asking for publication.baseUrl', () => {
    for (const listen of ['[::]:8080', '0.0.0.0:8080', ':8080', '[::0]:8080', '[fe80::1%eth0]:8080']) {
      const message = refusal({ CERTMINT_PUBLICATION_LISTEN: listen });
      expect(message).toContain('set publication.baseUrl');
      expect(message).not.toContain('\n');
    }
  });

  it('refuse an https:// base URL, a query or fragment, credentials, and a URL that is none, each in one line', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ CERTMINT_PUBLICATION_BASE_URL: 'https://pki.example.internal' }, /must start with http:\/\/, not https:\/\/: relying parties fetch CRLs/],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'ftp://pki.example.internal' }, /must start with http:\/\//],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'http://pki.example.internal/pki?x=1' }, /must not have a query or fragment/],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'http://pki.example.internal/pki?' }, /must not have a query or fragment/],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'http://pki.example.internal/#top' }, /must not have a query or fragment/],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'http://user:pw@pki.example.internal' }, /must not carry a user name or password/],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'pki.example.internal' }, /publication.baseUrl "pki.example.internal" is not a URL/],
      [{ CERTMINT_PUBLICATION_BASE_URL: 'http://pki.example.internal:70000' }, /is not a URL/],
    ];
    for (const [env, expected] of cases) {
      const message = refusal(env);
      expect(message).toMatch(expected);
      expect(message).not.toContain('\n');
    }
  });

  it('refuse a bad listen address or port, and server.listen\'s own', () => {
    expect(refusal({ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:70000' })).toBe('publication.listen port 70000 is out of range');
    expect(refusal({ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1' })).toMatch(/^publication.listen "127.0.0.1" must be host:port/);
    expect(refusal({ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:http' })).toMatch(/^publication.listen "127.0.0.1:http" must be host:port/);
    expect(refusal({ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:0' })).toMatch(/must name a port/);
    expect(refusal({ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:8443' })).toMatch(/is server.listen's address and port/);
    expect(refusal({ CERTMINT_SERVER_LISTEN: '127.0.0.1:9000', CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:9000' })).toMatch(/server.listen's address and port/);
  });
});
