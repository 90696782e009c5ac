// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, type CaOptions } from './ca-files.js';
import { rotateIntermediate, rotateRoot } from './rotation.js';

// Issue 24: certmint's intermediates name the CRL and the certificate of the root that signed
// them (rootUrlsOf), under the publication URL (http://) when one is configured.
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-intermediate-urls-'));
});
afterAll(async () => rm(base, { recursive: true, force: true }));

/** The CRL distribution point and AIA caIssuers of a CA certificate file. */
async function urlsOf(dir: string, file: string): Promise<{ crl: string[]; caIssuers: string[] }> {
  const cert = new x509.X509Certificate(await readFile(join(dir, file), 'utf8'));
  const crl = cert.getExtension(x509.CRLDistributionPointsExtension);
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  return {
    crl: crl?.distributionPoints.flatMap((p) => p.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier ?? '') ?? []) ?? [],
    caIssuers: aia?.caIssuers.map((n) => n.value) ?? [],
  };
}

describe('the URLs in certmint\'s intermediates', () => {
  it('name root 1\'s CRL and certificate from ca init, rotate-intermediate, and root 2\'s after rotate-root', async () => {
    const o: CaOptions = { dir: join(base, 'ca'), name: 'urls test', crlUrl: 'http://pki.test:8080/crl', caIssuersUrl: 'http://pki.test:8080/intermediate.der' };
    await initCa(o);
    expect(await urlsOf(o.dir, 'intermediate.pem')).toEqual({ crl: ['http://pki.test:8080/crl/root'], caIssuers: ['http://pki.test:8080/root.der'] });

    await rotateIntermediate(o);
    expect(await urlsOf(o.dir, 'intermediate-2.pem')).toEqual({ crl: ['http://pki.test:8080/crl/root'], caIssuers: ['http://pki.test:8080/root.der'] });

    await rotateRoot(o);
    expect(await urlsOf(o.dir, 'intermediate-3.pem')).toEqual({ crl: ['http://pki.test:8080/crl/root/2'], caIssuers: ['http://pki.test:8080/root/2.der'] });
    // Roots name nothing: a trust anchor is not fetched (RFC 5280 §6.1).
    expect(await urlsOf(o.dir, 'root.pem')).toEqual({ crl: [], caIssuers: [] });
    expect(await urlsOf(o.dir, 'root-2.pem')).toEqual({ crl: [], caIssuers: [] });
  });

  it('keep a path prefix of the base URL', async () => {
    const o: CaOptions = { dir: join(base, 'ca-prefix'), name: 'urls prefix', crlUrl: 'https://acme.test/certmint/crl', caIssuersUrl: 'https://acme.test/certmint/intermediate.der' };
    await initCa(o);
    expect(await urlsOf(o.dir, 'intermediate.pem')).toEqual({ crl: ['https://acme.test/certmint/crl/root'], caIssuers: ['https://acme.test/certmint/root.der'] });
  });
});
