// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { partitionCrlIssuer, type CrlIssuer } from '../ledger/ledger.js';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { parsePrometheusText } from '../../test/support/prometheus-text.js';

// crl.partitions 4 through the ACME app (real ledger, CA, publisher, JWS): finalize records the
// partition the CA chose, a revocation over ACME rebuilds that partition's CRL only, the CRL is
// served at the leaf's distribution point, and /metrics shows every partition's CRL.
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');
const partitions: CrlIssuer[] = [0, 1, 2, 3].map((p) => partitionCrlIssuer(1, p));

describe('crl.partitions 4 (the ACME app)', () => {
  let t: TestAcmeApp;
  let client: InjectAcmeClient;

  beforeAll(async () => {
    t = await startTestAcmeApp({ metrics: { countsCacheMs: 0 }, env: { CERTMINT_CRL_PARTITIONS: '4' } });
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await client.register()).statusCode).toBe(201);
  });
  afterAll(async () => t?.close());

  it('records the partition a leaf names, and a revocation over ACME rebuilds that partition\'s CRL only', async () => {
    const name = 'one.partitions.test';
    const order = await validateNames(t, client, [name]);
    const fin = await client.post(order.finalize, { csr: b64((await makeCsr([name])).der) });
    expect(fin.statusCode).toBe(200);
    const serial = String(fin.json().certificate).split('/').pop()!;
    const record = (await t.ledger.getCertificate(serial))!;
    const leaf = new x509.X509Certificate(Uint8Array.from(record.der));
    const crlUrl = leaf.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
    expect(crlUrl).toBe(`${t.baseUrl}/crl/1/${record.crlPartition}`);

    const own = partitionCrlIssuer(1, record.crlPartition!);
    const before = new Map([...partitions, 'intermediate' as const].map((i) => [i, t.crl.current(i)!.crlNumber]));
    const revoked = await client.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: b64(record.der) });
    expect(revoked.statusCode).toBe(200);
    await vi.waitFor(() => expect(t.crl.current(own)!.crlNumber).toBe(before.get(own)! + 1n));
    for (const [issuer, number] of before) if (issuer !== own) expect([issuer, t.crl.current(issuer)!.crlNumber]).toEqual([issuer, number]);

    const served = await t.app.inject({ method: 'GET', url: new URL(crlUrl).pathname });
    expect(served.statusCode).toBe(200);
    const crl = new x509.X509Crl(Uint8Array.from(served.rawPayload));
    expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toEqual([serial.replace(/^00/, '')]);

    const m = parsePrometheusText((await t.app.inject({ method: 'GET', url: '/metrics' })).body);
    for (const issuer of [...partitions, 'intermediate']) {
      expect(m.value('certmint_crl_next_update_in_seconds', { issuer }), issuer).toBeGreaterThan(0);
    }
  });
});
