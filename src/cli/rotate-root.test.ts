import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { opensslVerify, splitPem } from '../../test/support/issued-certificate.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';


// certmint ca rotate-root (the built binary) between two runs of the app on one data dir: init,
// issue, rotate the root, restart, issue again; then what each kind of client checks with openssl.
let dir: string;
let app: TestAcmeApp | undefined;
const BASE_URL = 'https://acme.test:8443';

const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: dir, CERTMINT_SERVER_BASE_URL: BASE_URL });

const file = (name: string, contents: string | Buffer): string => {
  const p = path.join(dir, name);
  writeFileSync(p, contents);
  return p;
};
const caFile = (name: string): string => path.join(dir, 'ca', name);
const sameCertificate = (a: string, b: string): boolean => new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
const links = (header: string | string[] | undefined): string[] => ([] as string[]).concat(header ?? []);

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-rotate-root-cli-'));
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('certmint ca rotate-root', () => {
  it('issues under a new root; the alternate chain ends in a cross certificate the old root verifies; both roots are served', { timeout: 60_000 }, async () => {
    expect((await certmint(['ca', 'init'])).code).toBe(0);
    const oldRootPem = readFileSync(caFile('root.pem'), 'utf8');

    app = await startTestAcmeApp({ dir, baseUrl: BASE_URL });
    const accountKey = await newAccountKey();
    const client = new InjectAcmeClient(app.app, app.baseUrl, accountKey);
    await client.register();
    const old = await issueCertificate(app, client, ['old.root.test']);
    await app.close();
    app = undefined;

    const rotated = await certmint(['ca', 'rotate-root']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('created root 2');
    expect(rotated.stdout).toContain('Restart certmint serve');
    // The old root stays as it was; the new files are there, keys 0600.
    expect(readFileSync(caFile('root.pem'), 'utf8')).toBe(oldRootPem);
    expect(statSync(caFile('root-2.key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(caFile('intermediate-2.key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(caFile('active-intermediate'), 'utf8').trim()).toBe('2');
    const newRootPem = readFileSync(caFile('root-2.pem'), 'utf8');
    const crossPem = readFileSync(caFile('root-2-cross.pem'), 'utf8');
    const intermediatePem = readFileSync(caFile('intermediate-2.pem'), 'utf8');
    const [oldRoot, newRoot, cross] = [oldRootPem, newRootPem, crossPem].map((p) => new X509Certificate(p));
    expect(newRoot!.subject).toBe('O=certmint\nCN=certmint Root CA R2');
    expect(cross!.subject).toBe(newRoot!.subject);
    expect(cross!.issuer).toBe(oldRoot!.subject);
    expect(cross!.publicKey.equals(newRoot!.publicKey)).toBe(true);
    expect(cross!.ca).toBe(true);
    expect(cross!.checkIssued(oldRoot!)).toBe(true);
    expect(new X509Certificate(intermediatePem).checkIssued(newRoot!)).toBe(true);
    // RFC 5280 §6.1: the cross lies within the validity of the root that signed it.
    expect(new Date(cross!.validTo).getTime()).toBeLessThanOrEqual(new Date(oldRoot!.validTo).getTime());

    // The restart: the app loads the CA from the data dir again.
    app = await startTestAcmeApp({ dir, baseUrl: BASE_URL });
    const t = app;
    const again = new InjectAcmeClient(t.app, t.baseUrl, accountKey);
    await again.register();
    const fresh = await issueCertificate(t, again, ['new.root.test']);
    const certUrl = `${t.baseUrl}/acme/cert/${fresh.serial}`;

    // Default chain: leaf + new intermediate, for clients that trust the new root.
    const download = await again.post(certUrl, '');
    expect(download.statusCode).toBe(200);
    expect(download.body).toBe(fresh.pem);
    const [leaf, ...defaultChain] = splitPem(fresh.pem);
    expect(defaultChain).toHaveLength(1);
    expect(sameCertificate(defaultChain[0]!, intermediatePem)).toBe(true);
    const leafFile = file('fresh.pem', leaf!);
    await expect(opensslVerify(caFile('root-2.pem'), leafFile, file('default-chain.pem', defaultChain.join('')))).resolves.toMatch(/: OK$/m);
    await expect(opensslVerify(caFile('root.pem'), leafFile, file('default-chain-2.pem', defaultChain.join('')))).rejects.toThrow(/unable to get local issuer/);
    expect(links(download.headers.link)).toEqual([`<${certUrl}/1>;rel="alternate"`, `<${t.baseUrl}/directory>;rel="index"`]);

    // Alternate chain: leaf + new intermediate + cross, which the old root alone verifies.
    const alternate = await again.post(`${certUrl}/1`, '');
    expect(alternate.statusCode).toBe(200);
    expect(alternate.headers['content-type']).toBe('application/pem-certificate-chain');
    expect(links(alternate.headers.link)).toEqual([`<${certUrl}>;rel="alternate"`, `<${t.baseUrl}/directory>;rel="index"`]);
    const [altLeaf, ...altChain] = splitPem(alternate.body);
    expect(altLeaf).toBe(leaf);
    expect(altChain).toHaveLength(2);
    expect(sameCertificate(altChain[0]!, intermediatePem)).toBe(true);
    expect(sameCertificate(altChain[1]!, crossPem)).toBe(true);
    await expect(opensslVerify(caFile('root.pem'), leafFile, file('alternate-chain.pem', altChain.join('')))).resolves.toMatch(/: OK$/m);
    expect((await again.post(`${certUrl}/2`, '')).statusCode).toBe(404);
    expect((await again.post(`${certUrl}/0`, '')).statusCode).toBe(404);

    // A leaf from before the rotation: its stored chain (generation 1) and the old root, no alternates.
    const oldUrl = `${t.baseUrl}/acme/cert/${old.serial}`;
    const oldDownload = await again.post(oldUrl, '');
    expect(oldDownload.body).toBe(old.pem);
    expect(links(oldDownload.headers.link)).toEqual([`<${t.baseUrl}/directory>;rel="index"`]);
    const stored = (await t.ledger.getCertificate(old.serial))!;
    await expect(opensslVerify(caFile('root.pem'), file('old.pem', splitPem(old.pem)[0]!), file('old-chain.pem', stored.chainPem))).resolves.toMatch(/: OK$/m);
    expect((await again.post(`${oldUrl}/1`, '')).statusCode).toBe(404);

    // /roots.pem: the old root first, then the new one.
    const roots = await t.app.inject({ method: 'GET', url: '/roots.pem' });
    const served = splitPem(roots.body);
    expect(served).toHaveLength(2);
    expect(sameCertificate(served[0]!, oldRootPem)).toBe(true);
    expect(sameCertificate(served[1]!, newRootPem)).toBe(true);

    // Each root signs its own CRL of intermediates; generation 2 signs its leaves'.
    const crlText = (name: string, der: Buffer, bundle: string) => {
      const r = spawnSync('openssl', ['crl', '-in', file(name, der), '-inform', 'DER', '-CAfile', file(`${name}.bundle.pem`, bundle), '-noout', '-text']);
      return { verify: `${r.stderr}`, text: `${r.stdout}` };
    };
    const crlRoot1 = await t.app.inject({ method: 'GET', url: '/crl/root' });
    const crlRoot2 = await t.app.inject({ method: 'GET', url: '/crl/root/2' });
    const crlGeneration2 = await t.app.inject({ method: 'GET', url: '/crl/2' });
    expect([crlRoot1.statusCode, crlRoot2.statusCode, crlGeneration2.statusCode]).toEqual([200, 200, 200]);
    const first = crlText('root1.crl', crlRoot1.rawPayload, oldRootPem);
    expect(first.verify).toContain('verify OK');
    expect(first.text).toContain('Issuer: O = certmint, CN = certmint Root CA\n');
    const second = crlText('root2.crl', crlRoot2.rawPayload, newRootPem);
    expect(second.verify).toContain('verify OK');
    expect(second.text).toContain('Issuer: O = certmint, CN = certmint Root CA R2\n');
    expect(crlText('root2-by-1.crl', crlRoot2.rawPayload, oldRootPem).verify).not.toContain('verify OK');
    expect(crlText('gen2.crl', crlGeneration2.rawPayload, intermediatePem + newRootPem).verify).toContain('verify OK');
    expect((await t.app.inject({ method: 'GET', url: '/crl/root/3' })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/crl/root/1' })).statusCode).toBe(404);
    // Each root's certificate, DER, where the intermediates it signs point (AIA caIssuers).
    const rootDer = async (url: string) => (await t.app.inject({ method: 'GET', url })).rawPayload;
    expect(sameCertificate(new X509Certificate(await rootDer('/root.der')).toString(), oldRootPem)).toBe(true);
    expect(sameCertificate(new X509Certificate(await rootDer('/root/2.der')).toString(), newRootPem)).toBe(true);
    expect(new X509Certificate(intermediatePem).infoAccess).toContain(`CA Issuers - URI:${t.baseUrl}/root/2.der`);
    expect((await t.app.inject({ method: 'GET', url: '/root/3.der' })).statusCode).toBe(404);
    expect((await certmint(['crl', 'show', '--root', '2'])).stdout).toMatch(/^issuer\s+O=certmint, CN=certmint Root CA R2\n/);
    expect((await certmint(['crl', 'show', '--root'])).stdout).toMatch(/^issuer\s+O=certmint, CN=certmint Root CA\n/);

    const status = await certmint(['ca', 'status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      roots: [
        { root: 1, newest: false, crossSigned: false, subject: 'O=certmint, CN=certmint Root CA', notAfter: expect.any(String), liveCertificates: 1 },
        { root: 2, newest: true, crossSigned: true, subject: 'O=certmint, CN=certmint Root CA R2', notAfter: expect.any(String), liveCertificates: 1 },
      ],
      intermediates: [
        { generation: 1, root: 1, active: false, subject: 'O=certmint, CN=certmint Intermediate CA', notAfter: expect.any(String), liveCertificates: 1 },
        { generation: 2, root: 2, active: true, subject: 'O=certmint, CN=certmint Intermediate CA G2', notAfter: expect.any(String), liveCertificates: 1 },
      ],
      nameConstraints: { active: { permitted: [], excluded: [] } },
    });
    expect((await certmint(['ca', 'status'])).stdout).toMatch(/^ROOT\s+NOT AFTER\s+LIVE\s+SUBJECT\n1\s+\S+\s+1\s+O=certmint, CN=certmint Root CA\n2 \(newest\) \(cross-signed\)\s+\S+\s+1\s+O=certmint, CN=certmint Root CA R2\n\n/);
  });
});
