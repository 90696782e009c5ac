import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCa } from '../ca/ca-files.js';
import { newSerialHex } from '../ca/serial.js';
import { runCli, requireBuiltCli, type CliResult } from '../../test/support/cli.js';
import { startCertmint, type CertmintProcess } from '../../test/support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../../test/support/http01-responder.js';
import { opensslVerify, splitPem } from '../../test/support/issued-certificate.js';

// certmint as the subordinate of a root it does not hold: openssl plays the corporate root.
// `ca csr` → openssl signs → `ca import` → a real `certmint serve` issues to a real ACME client;
// and `ca import --key` with the keys openssl and Vault hand out (SEC1, PKCS#1).
const PASSPHRASE = 'import-test-passphrase-7';
let dir: string;
let certmint: CertmintProcess | undefined;
let responder: Http01Responder | undefined;

const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe', cwd: dir });
const file = (name: string): string => path.join(dir, name);
const CA_EXTENSIONS = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n';

/** A self-signed root made by openssl: <name>.pem and <name>.key. */
function opensslRoot(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`),
    '-subj', `/O=Example Corp/CN=${name}`, '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

/** openssl signs a CSR as a CA certificate (or with `extensions`). */
function opensslSign(csr: string, issuer: string, out: string, extensions = CA_EXTENSIONS): void {
  writeFileSync(file('ext.cnf'), extensions);
  openssl('x509', '-req', '-in', csr, '-CA', file(`${issuer}.pem`), '-CAkey', file(`${issuer}.key`), '-CAcreateserial', '-days', '365', '-extfile', file('ext.cnf'), '-out', out);
}

function expectNoSecrets(r: CliResult, ...secrets: string[]): void {
  for (const text of [r.stdout, r.stderr]) {
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  }
}

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-import-'));
  opensslRoot('corp-root');
});
afterAll(async () => {
  await responder?.stop();
  await certmint?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('certmint ca csr + ca import', () => {
  it('issues through ACME under a root made by openssl; certmint serves that root and refuses what needs its key', { timeout: 180_000 }, async () => {
    const passFile = file('passphrase');
    writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    const env = { CERTMINT_CA_KEY_PASSPHRASE_FILE: passFile };
    certmint = await startCertmint({ env });
    const config = path.join(certmint.tempDir, 'certmint.yaml');
    const cli = (...args: string[]) => runCli([...args, '--config', config], env);
    const ca = path.join(certmint.dataDir, 'ca');

    certmint = await certmint.restart(async () => {
      // A fresh data dir: the CA serve made on its first start goes.
      rmSync(certmint!.dataDir, { recursive: true, force: true });
      const csr = await cli('ca', 'csr', '--out', file('intermediate.csr'));
      expect(csr.stderr).toContain(`created the intermediate key ${ca}/pending-intermediate.key.pem`);
      expect(csr.code).toBe(0);
      expect(readFileSync(path.join(ca, 'pending-intermediate.key.pem'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      const request = openssl('req', '-in', file('intermediate.csr'), '-noout', '-text', '-verify');
      expect(request).toContain('Subject: O = certmint, CN = certmint Intermediate CA');
      expect(request).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      // Asked again before the import: the same request for the same waiting key.
      expect((await cli('ca', 'csr')).stdout).toBe(readFileSync(file('intermediate.csr'), 'utf8'));
      // serve does not make a CA of its own over a pending key.
      const early = await runCli(['serve', '--config', config], { ...env, CERTMINT_SERVER_LISTEN: '127.0.0.1:0' });
      expect(early.stderr).toContain('is waiting for its certificate from an external CA');

      opensslSign(file('intermediate.csr'), 'corp-root', file('intermediate.pem'));
      const imported = await cli('ca', 'import', '--cert', file('intermediate.pem'), '--chain', file('corp-root.pem'));
      expect(imported.stderr).toBe('');
      expect(imported.code).toBe(0);
      expect(imported.stdout).toContain('the pending key of ca csr');
      expectNoSecrets(imported, PASSPHRASE);
      expect(existsSync(path.join(ca, 'pending-intermediate.key.pem'))).toBe(false);
      expect(existsSync(path.join(ca, 'root.key.pem'))).toBe(false);
      expect(readFileSync(path.join(ca, 'intermediate.key.pem'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      expect(statSync(path.join(ca, 'intermediate.key.pem')).mode & 0o777).toBe(0o600);
      const audit = JSON.parse((await cli('audit', '--json', '--action', 'ca-import')).stdout) as { actor: string; detail: { root: { subject: string } } }[];
      expect(audit).toMatchObject([{ actor: expect.stringMatching(/^operator:./), detail: { root: { subject: expect.stringContaining('corp-root') } } }]);

      expect((await cli('ca', 'rotate-root')).stderr).toMatch(/cannot rotate the root: .* runs under an external root \(certmint ca import\) whose private key certmint does not hold/);
      expect((await cli('ca', 'rotate-intermediate')).stderr).toContain('certmint ca csr');
      expect((await cli('ca', 'import', '--cert', file('intermediate.pem'), '--chain', file('corp-root.pem'))).stderr).toContain('it holds a CA already');
    });

    const root = readFileSync(file('corp-root.pem'), 'utf8');
    expect(new X509Certificate(certmint.rootPem).raw.equals(new X509Certificate(root).raw)).toBe(true);

    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    acme.axios.defaults.httpsAgent = new Agent({ ca: certmint.rootPem });
    const client = new acme.Client({ directoryUrl: certmint.directoryUrl, accountKey: await acme.crypto.createPrivateKey() });
    const names = ['web.corp-import.test'];
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const fullchain = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => responder!.set(challenge.token, keyAuthorization),
      challengeRemoveFn: async () => {},
    });
    const [leaf, intermediate, ...rest] = splitPem(fullchain);
    expect(rest).toEqual([]);
    expect(new X509Certificate(intermediate!).raw.equals(new X509Certificate(readFileSync(file('intermediate.pem'))).raw)).toBe(true);
    writeFileSync(file('leaf.pem'), leaf!);
    writeFileSync(file('chain.pem'), intermediate!);
    await expect(opensslVerify(file('corp-root.pem'), file('leaf.pem'), file('chain.pem'))).resolves.toMatch(/: OK$/m);

    const agent = new Agent({ ca: certmint.rootPem });
    const status = (url: string) => acme.axios.get(url, { httpsAgent: agent, validateStatus: () => true, responseType: 'arraybuffer' }).then((r) => r.status);
    expect(await status(`${certmint.baseUrl}/crl/root`)).toBe(404);
    expect(await status(`${certmint.baseUrl}/crl`)).toBe(200);
  });

  it('imports an intermediate key in SEC1 or PKCS#1 form with a chain through a sub-CA, after checking everything', { timeout: 60_000 }, async () => {
    // corp-root → corp-issuing (a sub-CA) → the intermediate certmint gets, with an EC key in SEC1.
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('corp-issuing.key'), '-subj', '/O=Example Corp/CN=Issuing CA', '-out', file('issuing.csr'));
    opensslSign(file('issuing.csr'), 'corp-root', file('corp-issuing.pem'));
    writeFileSync(file('sec1.key'), openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout'));
    writeFileSync(file('rsa.key'), openssl('genrsa', '-traditional', '2048'));
    expect(readFileSync(file('sec1.key'), 'utf8')).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(readFileSync(file('rsa.key'), 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    writeFileSync(file('chain-both.pem'), readFileSync(file('corp-root.pem'), 'utf8') + readFileSync(file('corp-issuing.pem'), 'utf8'));

    const sign = (key: string, issuer: string, out: string, extensions?: string) => {
      openssl('req', '-new', '-key', file(key), '-subj', `/O=certmint/CN=${out}`, '-out', file(`${out}.csr`));
      opensslSign(file(`${out}.csr`), issuer, file(`${out}.pem`), extensions);
    };
    sign('sec1.key', 'corp-issuing', 'ec-intermediate');
    sign('rsa.key', 'corp-root', 'rsa-intermediate');
    sign('rsa.key', 'corp-root', 'not-a-ca', 'basicConstraints=critical,CA:FALSE\n');

    const importInto = (name: string, args: string[], env: Record<string, string> = {}) =>
      runCli(['ca', 'import', ...args], { CERTMINT_DATA_DIR: file(name), ...env });
    for (const [name, key, cert, chain] of [
      ['sec1', 'sec1.key', 'ec-intermediate.pem', 'chain-both.pem'],
      ['pkcs1', 'rsa.key', 'rsa-intermediate.pem', 'corp-root.pem'],
    ] as const) {
      const r = await importInto(name, ['--cert', file(cert), '--key', file(key), '--chain', file(chain)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expectNoSecrets(r);
      const caDir = path.join(file(name), 'ca');
      expect(readFileSync(path.join(caDir, 'intermediate.key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(statSync(path.join(caDir, 'intermediate.key.pem')).mode & 0o777).toBe(0o600);
      // The CA loads and its leaves verify up to the openssl root.
      const authority = await loadCa({ dir: caDir, name: 'certmint', crlUrl: 'http://x/crl', caIssuersUrl: 'http://x/i.der' });
      const spki = (await crypto.subtle.exportKey('spki', (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])).publicKey));
      const issued = await authority.issueLeaf({
        spki: new Uint8Array(spki),
        identifiers: [{ type: 'dns', value: `${name}.example` }],
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
        serialHex: newSerialHex(),
      });
      writeFileSync(file(`${name}-leaf.pem`), new X509Certificate(Buffer.from(issued.der)).toString());
      writeFileSync(file(`${name}-chain.pem`), authority.chainPem);
      expect(splitPem(authority.chainPem)).toHaveLength(name === 'sec1' ? 2 : 1);
      await expect(opensslVerify(file('corp-root.pem'), file(`${name}-leaf.pem`), file(`${name}-chain.pem`))).resolves.toMatch(/: OK$/m);
      expect(authority.rootsPem).toBe(readFileSync(file('corp-root.pem'), 'utf8').replace(/\r\n/g, '\n'));
      await expect(authority.signIntermediateCrl({ crlNumber: 1n, thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 1000), entries: [] })).rejects.toThrow('external root');
    }

    const refused = async (args: string[], message: string | RegExp, env: Record<string, string> = {}) => {
      const name = `refused-${newSerialHex()}`;
      const r = await importInto(name, args, env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expectNoSecrets(r, ...Object.values(env));
      // Nothing written.
      expect(existsSync(path.join(file(name), 'ca', 'intermediate.pem'))).toBe(false);
    };
    await refused(['--cert', file('ec-intermediate.pem'), '--key', file('rsa.key'), '--chain', file('chain-both.pem')], /the private key in .*rsa\.key does not belong to the certificate/);
    await refused(['--cert', file('not-a-ca.pem'), '--key', file('rsa.key'), '--chain', file('corp-root.pem')], /is not a CA certificate/);
    await refused(['--cert', file('ec-intermediate.pem'), '--key', file('sec1.key'), '--chain', file('corp-root.pem')], /does not reach a self-signed root: no certificate in it signed "O=certmint, CN=ec-intermediate"/);
    await refused(['--cert', file('rsa-intermediate.pem'), '--key', file('rsa.key')], /does not reach a self-signed root/);
    await refused(['--cert', file('rsa-intermediate.pem'), '--chain', file('corp-root.pem')], /no --key given and no pending key/);
    // An encrypted key with the wrong passphrase: named, never echoed.
    writeFileSync(file('rsa-encrypted.key'), openssl('pkcs8', '-topk8', '-in', file('rsa.key'), '-passout', 'pass:the-real-one'));
    await refused(['--cert', file('rsa-intermediate.pem'), '--key', file('rsa-encrypted.key'), '--chain', file('corp-root.pem')],
      `certmint: cannot decrypt ${file('rsa-encrypted.key')}: wrong passphrase? (it came from CERTMINT_CA_KEY_PASSPHRASE)\n`, { CERTMINT_CA_KEY_PASSPHRASE: 'not-the-real-one' });
    // Into a data dir with a CA already.
    const again = await importInto('sec1', ['--cert', file('rsa-intermediate.pem'), '--key', file('rsa.key'), '--chain', file('corp-root.pem')]);
    expect(again.stderr).toMatch(/cannot import into .*sec1\/ca: it holds a CA already/);
    expect(readFileSync(path.join(file('sec1'), 'ca', 'intermediate.pem'), 'utf8')).toBe(readFileSync(file('ec-intermediate.pem'), 'utf8'));
  });
});
