import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';

let t: TestAcmeApp;
beforeAll(async () => {
  t = await startTestAcmeApp();
});
afterAll(async () => t?.close());

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });

// The public documents a relying party or a cache fetches again and again: each answers a
// revalidation it can match with 304 and no body (RFC 9110 §13.1, §15.4.5), and anything else
// with 200 and the whole document.
describe('GET of the CRLs and CA certificates honours If-None-Match and If-Modified-Since', () => {
  for (const url of ['/crl', '/crl/root', '/intermediate.der', '/roots.pem']) {
    it(`${url}: 304 for its ETag or a date not before Last-Modified, 200 with the body otherwise`, async () => {
      const first = await get(url);
      expect(first.statusCode).toBe(200);
      const body = first.rawPayload;
      expect(body.length).toBeGreaterThan(100);
      const etag = String(first.headers.etag);
      const lastModified = String(first.headers['last-modified']);
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(Number.isNaN(Date.parse(lastModified))).toBe(false);
      expect(first.headers['cache-control']).toMatch(/^public, max-age=\d+/);

      for (const headers of <Record<string, string>[]>[
        { 'if-none-match': etag },
        { 'if-none-match': `"other", W/${etag}` },
        { 'if-none-match': '*' },
        { 'if-modified-since': lastModified },
        { 'if-modified-since': new Date(Date.parse(lastModified) + 60_000).toUTCString() },
      ]) {
        const res = await get(url, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(304);
        expect(res.rawPayload.length).toBe(0);
        expect(res.headers.etag).toBe(etag);
      }
      for (const headers of <Record<string, string>[]>[
        {},
        { 'if-none-match': '"not-this-one"' },
        // If-None-Match decides when both are sent (RFC 9110 §13.2.2).
        { 'if-none-match': '"not-this-one"', 'if-modified-since': lastModified },
        { 'if-modified-since': new Date(Date.parse(lastModified) - 1000).toUTCString() },
        { 'if-modified-since': 'yesterday' },
      ]) {
        const res = await get(url, headers);
        expect(res.statusCode, JSON.stringify(headers)).toBe(200);
        expect(Buffer.compare(res.rawPayload, body)).toBe(0);
      }
    });
  }

  it('/crl may be cached until the next scheduled CRL (crl.refresh), not until nextUpdate', async () => {
    const res = await get('/crl');
    const crl = t.crl.current('intermediate')!;
    expect(res.headers['last-modified']).toBe(crl.thisUpdate.toUTCString());
    expect(res.headers.expires).toBe(crl.nextUpdate.toUTCString());
    const maxAge = Number(/max-age=(\d+)/.exec(String(res.headers['cache-control']))![1]);
    // The test app refreshes hourly; the CRL is valid a day.
    expect(maxAge).toBeLessThanOrEqual(3600);
    expect(maxAge).toBeGreaterThan(0);
  });

  it('/crl counts its max-age down on the server\'s clock, the one its CRLs are scheduled by', async () => {
    t.clock.advance(45 * 60_000);
    try {
      const res = await get('/crl');
      const crl = t.crl.current('intermediate')!;
      const maxAge = Number(/max-age=(\d+)/.exec(String(res.headers['cache-control']))![1]);
      expect(maxAge).toBe(Math.max(0, Math.floor((crl.refreshAt.getTime() - t.clock.now().getTime()) / 1000)));
      expect(maxAge).toBeLessThanOrEqual(15 * 60);
    } finally {
      t.clock.advance(-45 * 60_000);
    }
  });
});
