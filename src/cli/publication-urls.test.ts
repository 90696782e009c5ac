// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';

// Issue 24: the admin commands that sign intermediates name the signing root's CRL and certificate
// under publication.baseUrl once it is set, and leave the certificates made before as they are.
let dir: string;
const SERVER = 'https://acme.test:8443';
const PUBLICATION = 'http://pki.test:8080';

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-publication-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function urlsOf(file: string): { crl: string[]; caIssuers: string[] } {
  const cert = new x509.X509Certificate(readFileSync(path.join(dir, 'ca', file), 'utf8'));
  return {
    crl: cert.getExtension(x509.CRLDistributionPointsExtension)?.distributionPoints.flatMap((p) => p.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier ?? '') ?? []) ?? [],
    caIssuers: cert.getExtension(x509.AuthorityInfoAccessExtension)?.caIssuers.map((n) => n.value) ?? [],
  };
}

describe('intermediates signed by the admin commands', () => {
  it('name server.baseUrl without publication, publication.baseUrl once it is set (rotate to adopt it); older ones stay as they were', { timeout: 60_000 }, async () => {
    const env = { CERTMINT_DATA_DIR: dir, CERTMINT_SERVER_BASE_URL: SERVER };
    const init = await runCli(['ca', 'init'], env);
    expect(init.code, init.stderr).toBe(0);
    expect(urlsOf('intermediate.pem')).toEqual({ crl: [`${SERVER}/crl/root`], caIssuers: [`${SERVER}/root.der`] });
    const before = readFileSync(path.join(dir, 'ca', 'intermediate.pem'));

    const published = { ...env, CERTMINT_PUBLICATION_BASE_URL: PUBLICATION };
    const rotated = await runCli(['ca', 'rotate-intermediate'], published);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(urlsOf('intermediate-2.pem')).toEqual({ crl: [`${PUBLICATION}/crl/root`], caIssuers: [`${PUBLICATION}/root.der`] });
    const newRoot = await runCli(['ca', 'rotate-root'], published);
    expect(newRoot.code, newRoot.stderr).toBe(0);
    expect(urlsOf('intermediate-3.pem')).toEqual({ crl: [`${PUBLICATION}/crl/root/2`], caIssuers: [`${PUBLICATION}/root/2.der`] });
    expect(readFileSync(path.join(dir, 'ca', 'intermediate.pem')).equals(before)).toBe(true);
  });
});
