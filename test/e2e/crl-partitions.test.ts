// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireOrSkip } from '../support/clients.js';
import { requireBuiltCli } from '../support/cli.js';
import { splitPem } from '../support/issued-certificate.js';
import { freePort } from '../support/ports.js';
import { goSerial, goX509Available, parseCrlsWithGo } from '../support/x509-check.js';

// Issue 27, "Partitioned CRLs": a real `certmint serve` with crl.partitions 4 and the plain-HTTP
// publication listener. lego gets certificates; each names its partition's CRL; `certmint revoke`
// revokes one; that partition's CRL (over plain HTTP and over HTTPS) lists it, and openssl, given
// it, refuses the revoked leaf, accepts its partition neighbour, and will not apply it to a leaf of
// another partition.
const available = requireOrSkip('lego', 'apt-get install lego');

interface Leaf {
  readonly name: string;
  readonly serial: string;
  readonly crlUrl: string;
  readonly partition: number;
  readonly file: string;
}

function openssl(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }));
  });
}

/** A GET over HTTPS trusting the test server's root, the body as bytes. */
function getOverTls(url: string, ca: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe.skipIf(!available)('partitioned CRLs (a real certmint serve with crl.partitions 4)', () => {
  let certmint: CertmintProcess;
  let publicationUrl: string;
  let legoDir: string;
  /** What the first test revoked, and the intermediate lego got with it, for the Go test after it. */
  let revocation: { readonly leaf: Leaf; readonly issuerFile: string } | undefined;

  beforeAll(async () => {
    requireBuiltCli();
    const port = await freePort();
    publicationUrl = `http://127.0.0.1:${port}`;
    // crl.minInterval: a revocation's CRL follows the one before within 200 ms, not 10 s.
    certmint = await startCertmint({ config: { publication: { listen: `127.0.0.1:${port}` }, crl: { partitions: 4, minInterval: '200ms' } } });
    legoDir = path.join(certmint.tempDir, 'lego');
  }, 120_000);
  afterAll(async () => {
    await certmint?.stop();
  });

  function lego(name: string): Promise<void> {
    const args = ['--server', certmint.directoryUrl, '--email', 'ops@example.internal', '--accept-tos', '--domains', name,
      '--http', '--http.port', `127.0.0.1:${certmint.http01Port}`, '--path', legoDir, 'run'];
    return new Promise((resolve, reject) => {
      execFile('lego', args, { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile }, timeout: 90_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`lego for ${name} failed: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}`)) : resolve(),
      );
    });
  }

  async function issue(name: string): Promise<Leaf> {
    await lego(name);
    const bundle = splitPem(await readFile(path.join(legoDir, 'certificates', `${name}.crt`), 'utf8'));
    const cert = new x509.X509Certificate(bundle[0]!);
    const crlUrl = cert.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
    const file = path.join(certmint.tempDir, `${name}.pem`);
    await writeFile(file, bundle[0]!);
    return { name, serial: new X509Certificate(bundle[0]!).serialNumber.toLowerCase(), crlUrl, partition: Number(crlUrl.split('/').pop()), file };
  }

  async function fetchCrl(url: string): Promise<x509.X509Crl> {
    const res = await fetch(url);
    expect(res.status, url).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pkix-crl');
    return new x509.X509Crl(Buffer.from(await res.arrayBuffer()));
  }

  it('lists a revoked leaf in its partition\'s CRL only, which openssl applies to that partition only', { timeout: 600_000 }, async () => {
    // Until one partition has two leaves and another has one (five leaves make a pair for certain).
    const leaves: Leaf[] = [];
    const pairOf = () => leaves.find((l) => leaves.some((m) => m !== l && m.partition === l.partition) && leaves.some((m) => m.partition !== l.partition));
    while (!pairOf()) leaves.push(await issue(`l${leaves.length}.partitions.test`));
    for (const leaf of leaves) {
      expect(leaf.crlUrl).toBe(`${publicationUrl}/crl/1/${leaf.partition}`);
      expect(leaf.partition).toBeLessThan(4);
    }
    const revoked = pairOf()!;
    const neighbour = leaves.find((l) => l !== revoked && l.partition === revoked.partition)!;
    const other = leaves.find((l) => l.partition !== revoked.partition)!;
    const partitionPath = `/crl/1/${revoked.partition}`;
    const before = await fetchCrl(`${publicationUrl}${partitionPath}`);
    const otherBefore = await fetchCrl(`${publicationUrl}/crl/1/${other.partition}`);

    const cli = await certmint.cli(['revoke', revoked.serial, '--reason', 'keyCompromise']);
    expect(cli.code, cli.stderr).toBe(0);
    // certmint revoke signs the partition's CRL itself (only that one); the server adopts it from the ledger at its next check.
    expect(cli.stdout).toContain(`of the intermediate-1-partition-${revoked.partition} (`);
    let after!: x509.X509Crl;
    await vi.waitFor(
      async () => {
        after = await fetchCrl(`${publicationUrl}${partitionPath}`);
        expect(after.entries.map((e) => e.serialNumber.toLowerCase())).toContain(revoked.serial.replace(/^00/, ''));
      },
      { timeout: 30_000, interval: 100 },
    );
    // The HTTPS listener serves the same CRL; the other partition was not rebuilt for it.
    const overTls = await getOverTls(`${certmint.baseUrl}${partitionPath}`, certmint.rootPem);
    expect(overTls.status).toBe(200);
    expect(overTls.body.equals(Buffer.from(after.rawData))).toBe(true);
    const number = (crl: x509.X509Crl) => BigInt(`0x${Buffer.from(crl.getExtension('2.5.29.20')!.value).toString('hex').slice(4)}`);
    expect(number(after)).toBeGreaterThan(number(before));
    expect(number(await fetchCrl(`${publicationUrl}/crl/1/${other.partition}`))).toBe(number(otherBefore));

    // The CRL says which partition it is: a critical IDP naming exactly the leaves' distribution point.
    const crlFile = path.join(certmint.tempDir, 'partition.crl');
    await writeFile(crlFile, Buffer.from(after.rawData));
    const text = await openssl(['crl', '-in', crlFile, '-inform', 'DER', '-noout', '-text']);
    expect(text.out).toMatch(new RegExp(`X509v3 Issuing Distribution Point: critical\\s+Full Name:\\s+URI:${revoked.crlUrl.replace(/\./g, '\\.')}\\s+Only User Certificates`));
    const crlPem = path.join(certmint.tempDir, 'partition.crl.pem');
    const b64 = Buffer.from(after.rawData).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
    await writeFile(crlPem, `-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`);
    const chainFile = path.join(legoDir, 'certificates', `${revoked.name}.issuer.crt`);
    const verify = (leaf: Leaf) => openssl(['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', certmint.rootFile, '-untrusted', chainFile, leaf.file]);
    const refused = await verify(revoked);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('certificate revoked');
    const ok = await verify(neighbour);
    expect(ok.out).toContain(': OK');
    expect(ok.code).toBe(0);
    const outOfScope = await verify(other);
    expect(outOfScope.code).toBe(1);
    expect(outOfScope.out).toContain('different CRL scope');
    revocation = { leaf: revoked, issuerFile: chainFile };

    // The whole generation's CRL stays at /crl (leaves issued with crl.partitions 1 name it); the
    // partition CRLs are shown and signed by the CRL commands too.
    expect((await fetch(`${publicationUrl}/crl`)).status).toBe(200);
    const shown = await certmint.cli(['crl', 'show', '--partition', String(revoked.partition)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^entries {7}1$/m);
    const generated = await certmint.cli(['crl', 'generate', '--partition', String(revoked.partition)]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout).toContain(`of the intermediate-1-partition-${revoked.partition}`);
  });

  // Go relying parties (cert-manager, Kubernetes, Caddy) read the CRL the leaf names with
  // x509.ParseRevocationList; the critical Issuing Distribution Point must not make them refuse it.
  it.skipIf(!goX509Available)('every partition\'s CRL as served parses with Go, verifies against the intermediate, and lists the revoked serial in its partition only', async () => {
    expect(revocation, 'the test above revokes a leaf first').toBeDefined();
    const { leaf, issuerFile } = revocation!;
    const files = await Promise.all(
      [0, 1, 2, 3].map(async (n) => {
        const file = path.join(certmint.tempDir, `go-partition-${n}.crl`);
        await writeFile(file, Buffer.from((await fetchCrl(`${publicationUrl}/crl/1/${n}`)).rawData));
        return file;
      }),
    );
    const read = parseCrlsWithGo(issuerFile, files);
    expect(read.map((crl) => crl.idpCritical)).toEqual([true, true, true, true]);
    expect(read.map((crl) => crl.serials.includes(goSerial(leaf.serial)))).toEqual([0, 1, 2, 3].map((n) => n === leaf.partition));
  });
});
