import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { certIdOf } from '../../test/support/cert-id.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { opensslVerify, splitPem } from '../../test/support/issued-certificate.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';


// certmint ca rotate-intermediate (the built binary) on a data dir between two runs of the app on
// it, as an operator rotates: init, issue, rotate, restart, issue again, revoke the old one.
let dir: string;
let app: TestAcmeApp | undefined;
const BASE_URL = 'https://acme.test:8443';

const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: dir, CERTMINT_SERVER_BASE_URL: BASE_URL });

const file = (name: string, contents: string | Buffer): string => {
  const p = path.join(dir, name);
  writeFileSync(p, contents);
  return p;
};

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-rotate-cli-'));
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('certmint ca rotate-intermediate', () => {
  it('moves issuance to a new intermediate; the old leaf keeps its chain and its CRL at /crl, signed by the old intermediate', { timeout: 60_000 }, async () => {
    expect((await certmint(['ca', 'init'])).code).toBe(0);
    const root = path.join(dir, 'ca', 'root.pem');

    app = await startTestAcmeApp({ dir, baseUrl: BASE_URL });
    const accountKey = await newAccountKey();
    const client = new InjectAcmeClient(app.app, app.baseUrl, accountKey);
    await client.register();
    const old = await issueCertificate(app, client, ['old.rotate.test']);
    await app.close();
    app = undefined;

    const rotated = await certmint(['ca', 'rotate-intermediate']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('created intermediate generation 2');
    expect(rotated.stdout).toContain('Restart certmint serve');
    expect(readFileSync(path.join(dir, 'ca', 'root.pem'), 'utf8')).toBe(readFileSync(root, 'utf8'));

    // The restart: the app loads the CA from the data dir again.
    app = await startTestAcmeApp({ dir, baseUrl: BASE_URL });
    const t = app;
    // The same account as before the restart.
    const again = new InjectAcmeClient(t.app, t.baseUrl, accountKey);
    await again.register();
    expect(again.accountUrl).toBe(client.accountUrl);
    const fresh = await issueCertificate(t, again, ['new.rotate.test']);

    const generation2 = readFileSync(path.join(dir, 'ca', 'intermediate-2.pem'), 'utf8');
    const generation1 = readFileSync(path.join(dir, 'ca', 'intermediate.pem'), 'utf8');
    const [freshLeaf, freshChain] = splitPem(fresh.pem);
    expect(new X509Certificate(freshChain!).raw.equals(new X509Certificate(generation2).raw)).toBe(true);
    await expect(opensslVerify(root, file('fresh.pem', freshLeaf!), file('fresh-chain.pem', freshChain!))).resolves.toMatch(/: OK$/m);
    await expect(opensslVerify(root, file('fresh-old-chain.pem', freshLeaf!), file('gen1.pem', generation1))).rejects.toThrow(/unable to get local issuer/);

    // The old leaf: its stored chain (and its download) is still generation 1's, and verifies.
    const stored = (await t.ledger.getCertificate(old.serial))!;
    expect(stored.issuerGeneration).toBe(1);
    expect((await t.ledger.getCertificate(fresh.serial))!.issuerGeneration).toBe(2);
    await expect(opensslVerify(root, file('old.pem', splitPem(old.pem)[0]!), file('old-chain.pem', stored.chainPem))).resolves.toMatch(/: OK$/m);
    expect((await again.post(`${t.baseUrl}/acme/cert/${old.serial}`, '')).body).toBe(old.pem);
    // Both AIA caIssuers URLs answer with their own intermediate.
    const aia1 = await t.app.inject({ method: 'GET', url: '/intermediate.der' });
    const aia2 = await t.app.inject({ method: 'GET', url: '/intermediate/2.der' });
    expect(new X509Certificate(aia1.rawPayload).raw.equals(new X509Certificate(generation1).raw)).toBe(true);
    expect(new X509Certificate(aia2.rawPayload).raw.equals(new X509Certificate(generation2).raw)).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/intermediate/3.der' })).statusCode).toBe(404);
    // RFC 9773: renewal info answers for leaves of either generation (their certIDs name different AKIs).
    for (const der of [old.der, fresh.der]) {
      expect((await t.app.inject({ method: 'GET', url: `/acme/renewal-info/${certIdOf(der)}` })).statusCode).toBe(200);
    }

    // Revoking the old leaf lists it in generation 1's CRL (/crl), signed by the old intermediate,
    // and not in generation 2's (/crl/2).
    expect((await again.post(`${t.baseUrl}/acme/revoke-cert`, { certificate: old.der.toString('base64url'), reason: 4 })).statusCode).toBe(200);
    await t.crl.check();
    const crl1 = await t.app.inject({ method: 'GET', url: '/crl' });
    const crl2 = await t.app.inject({ method: 'GET', url: '/crl/2' });
    expect([crl1.statusCode, crl2.statusCode]).toEqual([200, 200]);
    expect(crl2.headers['content-type']).toBe('application/pkix-crl');
    const crlText = (name: string, der: Buffer, bundle: string) => {
      const r = spawnSync('openssl', ['crl', '-in', file(name, der), '-inform', 'DER', '-CAfile', file(`${name}.bundle.pem`, bundle), '-noout', '-text']);
      return { verify: `${r.stderr}`, text: `${r.stdout}` };
    };
    const rootPem = readFileSync(root, 'utf8');
    const first = crlText('gen1.crl', crl1.rawPayload, generation1 + rootPem);
    expect(first.verify).toContain('verify OK');
    expect(first.text).toContain('Issuer: O = certmint, CN = certmint Intermediate CA\n');
    expect(first.text).toContain(old.serial.toUpperCase());
    expect(first.text).toContain('Superseded');
    const second = crlText('gen2.crl', crl2.rawPayload, generation2 + rootPem);
    expect(second.verify).toContain('verify OK');
    expect(second.text).toContain('Issuer: O = certmint, CN = certmint Intermediate CA G2\n');
    expect(second.text).not.toContain(old.serial.toUpperCase());
    expect(second.text).toContain('No Revoked Certificates');
    // Generation 1's CRL is not one generation 2 signed.
    expect(crlText('gen1-by-2.crl', crl1.rawPayload, generation2 + rootPem).verify).not.toContain('verify OK');
    expect((await t.app.inject({ method: 'GET', url: '/crl/1' })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/crl/3' })).statusCode).toBe(404);

    const status = await certmint(['ca', 'status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      roots: [{ root: 1, newest: true, crossSigned: false, subject: 'O=certmint, CN=certmint Root CA', notAfter: expect.any(String), liveCertificates: 1 }],
      intermediates: [
        { generation: 1, root: 1, active: false, subject: 'O=certmint, CN=certmint Intermediate CA', notAfter: expect.any(String), liveCertificates: 0 },
        { generation: 2, root: 1, active: true, subject: 'O=certmint, CN=certmint Intermediate CA G2', notAfter: expect.any(String), liveCertificates: 1 },
      ],
      nameConstraints: { active: { permitted: [], excluded: [] } },
    });
    const table = await certmint(['ca', 'status']);
    expect(table.stdout).toMatch(
      /^ROOT\s+NOT AFTER\s+LIVE\s+SUBJECT\n1 \(newest\)\s+\S+\s+1\s+O=certmint, CN=certmint Root CA\n\nGENERATION\s+ROOT\s+NOT AFTER\s+LIVE\s+SUBJECT\n1\s+1\s+\S+\s+0\s+O=certmint, CN=certmint Intermediate CA\n2 \(active\)\s+1\s+\S+\s+1\s+O=certmint, CN=certmint Intermediate CA G2\n$/,
    );
    const shown = await certmint(['crl', 'show', '--generation', '1']);
    expect(shown.stdout).toMatch(/entries\s+1\n/);
    expect((await certmint(['crl', 'show'])).stdout).toMatch(/issuer\s+O=certmint, CN=certmint Intermediate CA G2\n[\s\S]*entries\s+0\n/);
  });
});
