import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { createPublicationServer } from './publication-app.js';

let t: TestAcmeApp;
let publication: FastifyInstance;
let base: string;

beforeAll(async () => {
  t = await startTestAcmeApp({ metrics: {} });
  publication = await createPublicationServer({ ca: t.ca, baseUrl: 'http://pki.test', crl: (issuer) => t.crl.current(issuer), clock: t.clock, metrics: t.metrics });
  await publication.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(publication.server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await publication?.close();
  await t?.close();
});

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('the plain-HTTP publication listener (publication.listen)', () => {
  it('serves the CRLs and CA certificates byte for byte as the HTTPS listener does, with conditional GET', async () => {
    for (const path of ['/crl', '/crl/root', '/roots.pem', '/intermediate.der', '/root.der']) {
      const plain = await get(path);
      const tls = await t.app.inject({ method: 'GET', url: path });
      expect(plain.status, path).toBe(200);
      expect(tls.statusCode, path).toBe(200);
      expect(plain.body.equals(tls.rawPayload), path).toBe(true);
      expect(plain.headers.get('content-type'), path).toBe(tls.headers['content-type']);
      expect(plain.headers.get('etag'), path).toBe(tls.headers.etag);
      const again = await get(path, { headers: { 'if-none-match': plain.headers.get('etag')! } });
      expect(again.status, path).toBe(304);
      expect(again.body.length, path).toBe(0);
    }
    expect((await get('/crl')).headers.get('content-type')).toBe('application/pkix-crl');
    expect((await get('/root.der')).headers.get('content-type')).toBe('application/pkix-cert');
  });

  it('serves each root at /root.der (root 1) and /root/<n>.der, what certmint\'s intermediates name as caIssuers', async () => {
    const root = new X509Certificate(t.ca.roots[0]!.pem);
    expect((await get('/root.der')).body.equals(root.raw)).toBe(true);
    // The intermediate says so: the root's URLs under its CRL DP and AIA.
    const intermediate = new X509Certificate(t.ca.generations[0]!.der);
    expect(intermediate.infoAccess).toContain(`CA Issuers - URI:${t.baseUrl}/root.der`);
    expect(intermediate.verify(root.publicKey)).toBe(true);
    for (const path of ['/root/1.der', '/root/2.der', '/root/x.der', '/root/2', '/intermediate/2.der', '/crl/2', '/crl/root/2']) {
      expect((await get(path)).status, path).toBe(404);
    }
  });

  it('serves CRL partitions at /crl/<generation>/<partition> only in their canonical spelling (crl.partitions)', async () => {
    // Partitions of loaded generations, 0-255, written as a leaf's distribution point writes them.
    for (const path of ['/crl/1/256', '/crl/1/07', '/crl/1/x', '/crl/1/-1', '/crl/2/0', '/crl/0/0', '/crl/01/0']) {
      expect((await get(path)).status, path).toBe(404);
    }
    // This server has crl.partitions 1: no partition CRL is published, one may be soon (another instance's).
    const unpublished = await get('/crl/1/0');
    expect(unpublished.status).toBe(503);
    expect(unpublished.headers.get('retry-after')).toBe('5');
  });

  it('serves nothing else: ACME, metrics and the probes are 404 there (and still served over HTTPS)', async () => {
    for (const [method, path] of [
      ['GET', '/directory'],
      ['HEAD', '/acme/new-nonce'],
      ['GET', '/acme/new-nonce'],
      ['POST', '/acme/new-account'],
      ['GET', '/acme/renewal-info/x.y'],
      ['GET', '/metrics'],
      ['GET', '/health'],
      ['GET', '/ready'],
      ['POST', '/crl'],
      ['GET', '/'],
    ] as const) {
      const res = await get(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('replay-nonce'), `${method} ${path}`).toBeNull();
      if (method === 'GET') expect(res.body.toString(), path).toContain('publication.listen');
    }
    for (const path of ['/directory', '/metrics', '/health', '/root.der']) {
      expect((await t.app.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
    }
  });

  it('serves under the path of publication.baseUrl, as the HTTPS listener does under server.baseUrl\'s', async () => {
    const prefixed = await createPublicationServer({ ca: t.ca, baseUrl: 'http://pki.test/certmint', crl: (issuer) => t.crl.current(issuer), clock: t.clock });
    try {
      expect((await prefixed.inject({ method: 'GET', url: '/certmint/crl' })).statusCode).toBe(200);
      expect((await prefixed.inject({ method: 'GET', url: '/certmint/root.der' })).statusCode).toBe(200);
      expect((await prefixed.inject({ method: 'GET', url: '/crl' })).statusCode).toBe(404);
    } finally {
      await prefixed.close();
    }
  });
});
