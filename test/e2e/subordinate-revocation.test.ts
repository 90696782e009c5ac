import { get as httpGet } from 'node:http';
import { get } from 'node:https';
import path from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { crlNumberOf } from '../../src/ca/crl/info.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { parsePrometheusText } from '../support/prometheus-text.js';

// Issue 24: a subordinate CA next to a running `certmint serve` (the CLI on its config and data
// dir): /metrics shows its expiry, and after `certmint revoke` the server serves the root's CRL
// listing it, the one the CLI signed, without a restart.

let certmint: CertmintProcess;

function fetchText(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    (url.startsWith('https:') ? get : httpGet)(url, { ca: certmint.rootPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

/** The serials on the root's CRL as /crl/root serves it (lower-case hex). */
async function rootCrlSerials(): Promise<string[]> {
  const res = await fetchText(`${certmint.baseUrl}/crl/root`);
  expect(res.status).toBe(200);
  return (new x509.X509Crl(new Uint8Array(res.body)).entries ?? []).map((e) => e.serialNumber.toLowerCase());
}

beforeAll(async () => {
  certmint = await startCertmint({ config: { crl: { checkInterval: '1s' } } });
}, 60_000);
afterAll(async () => {
  await certmint?.stop();
});

describe('a subordinate CA beside a running server', () => {
  let serial: string;

  it('is exported in certmint_subordinate_not_after_seconds once issued', { timeout: 60_000 }, async () => {
    const issued = await certmint.cli(['ca', 'issue-istio-ca', '--trust-domain', 'cluster.local', '--validity', '90d', '--out', path.join(certmint.tempDir, 'istio')]);
    expect(issued.stderr).toBe('');
    expect(issued.code).toBe(0);
    serial = /serial\s+([0-9a-f]+)/.exec(issued.stdout)![1]!;
    const metrics = parsePrometheusText((await fetchText(`${certmint.baseUrl}/metrics`)).body.toString('utf8'));
    const notAfter = metrics.value('certmint_subordinate_not_after_seconds', { label: 'istio-cluster.local', serial, kind: 'istio' });
    // 90 days from now, give or take the test's own minutes.
    expect(notAfter * 1000 - Date.now()).toBeGreaterThan(89 * 86_400_000);
    expect(notAfter * 1000 - Date.now()).toBeLessThan(91 * 86_400_000);
  });

  it('after certmint revoke, the server serves the root CRL listing it, and drops it from the metric', { timeout: 60_000 }, async () => {
    expect(await rootCrlSerials()).not.toContain(serial);
    const revoked = await certmint.cli(['revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.code).toBe(0);
    const signed = BigInt(/published CRL number (\d+) of the root/.exec(revoked.stdout)![1]!);
    // The server adopts what the CLI stored in the ledger at its next check (crl.checkInterval 1s here).
    await vi.waitFor(async () => expect(await rootCrlSerials()).toContain(serial), { timeout: 20_000, interval: 200 });
    expect(crlNumberOf((await fetchText(`${certmint.baseUrl}/crl/root`)).body)).toBeGreaterThanOrEqual(signed);
    const metrics = parsePrometheusText((await fetchText(`${certmint.baseUrl}/metrics`)).body.toString('utf8'));
    expect(metrics.sampleNames.has('certmint_subordinate_not_after_seconds')).toBe(false);
  });
});
