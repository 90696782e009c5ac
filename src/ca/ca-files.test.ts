import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { CaError, initCa, loadCa, loadOrInitCa, type CaOptions } from './ca-files.js';
import { KeyPassphrase } from './key-passphrase.js';
import { newSerialHex } from './serial.js';
import type { CaKeyAlgorithm } from './types.js';
import type { X509CertificateAuthority } from './x509-authority.js';
import { issueTestLeaf, openssl } from '../../test/support/ca-scratch.js';

let base: string;
let n = 0;

/** Options for a CA in a fresh directory under the test's temp dir. */
function options(extra: Partial<CaOptions> = {}): CaOptions {
  n += 1;
  return {
    dir: join(base, `ca-${n}`, 'ca'),
    name: 'certmint test',
    crlUrl: 'http://certmint.test/crl',
    caIssuersUrl: 'http://certmint.test/intermediate.der',
    ...extra,
  };
}

/** Issues a leaf and checks it with `openssl verify` against the files a user would have. */
async function expectLeafVerifies(ca: X509CertificateAuthority, dir: string): Promise<void> {
  const leaf = await issueTestLeaf(ca);
  const leafPem = join(dir, `leaf-${newSerialHex()}.pem`);
  const chainPem = join(dir, `chain-${newSerialHex()}.pem`);
  await writeFile(leafPem, `-----BEGIN CERTIFICATE-----\n${Buffer.from(leaf.der).toString('base64')}\n-----END CERTIFICATE-----\n`);
  await writeFile(chainPem, ca.chainPem);
  expect(openssl(['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', chainPem, leafPem])).toContain(': OK');
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-ca-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('initCa', () => {
  it('writes root and intermediate with private modes and nothing half-written', async () => {
    const o = options();
    await initCa(o);
    expect((await readdir(o.dir)).sort()).toEqual(['intermediate.key.pem', 'intermediate.pem', 'root.key.pem', 'root.pem']);
    expect((await stat(o.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(o.dir, 'root.key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(o.dir, 'intermediate.key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(o.dir, 'root.pem'))).mode & 0o777).toBe(0o644);
    // The key files are PKCS#8 that openssl reads.
    expect(openssl(['pkey', '-in', join(o.dir, 'intermediate.key.pem'), '-noout', '-text'])).toContain('NIST CURVE: P-256');
    expect(await readFile(join(o.dir, 'root.key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('makes a root and an intermediate with the extensions a CA needs', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
    const o = options({ clock });
    await initCa(o);
    const root = openssl(['x509', '-in', join(o.dir, 'root.pem'), '-noout', '-text']);
    expect(root).toContain('Subject: O = certmint test, CN = certmint test Root CA');
    expect(root).toContain('Issuer: O = certmint test, CN = certmint test Root CA');
    expect(root).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
    expect(root).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(root).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(root).toContain('Not Before: Dec 31 23:00:00 2029 GMT');
    expect(root).toContain('Not After : Dec 30 00:00:00 2039 GMT');
    const rootSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(root)?.[1];
    expect(rootSki).toBeDefined();

    const intermediate = openssl(['x509', '-in', join(o.dir, 'intermediate.pem'), '-noout', '-text']);
    expect(intermediate).toContain('Subject: O = certmint test, CN = certmint test Intermediate CA');
    expect(intermediate).toContain('Issuer: O = certmint test, CN = certmint test Root CA');
    expect(intermediate).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0\n/);
    expect(intermediate).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    expect(intermediate).toMatch(/X509v3 Subject Key Identifier:\s+[0-9A-F:]+\n/);
    expect(intermediate).toMatch(new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${rootSki}\\n`));
    // 5 × 365 days: 2032 is a leap year.
    expect(intermediate).toContain('Not After : Dec 31 00:00:00 2034 GMT');
    expect(
      openssl(['verify', '-attime', String(Date.parse('2030-06-01') / 1000), '-CAfile', join(o.dir, 'root.pem'), join(o.dir, 'intermediate.pem')]),
    ).toContain(': OK');
    const serial = openssl(['x509', '-in', join(o.dir, 'root.pem'), '-noout', '-serial']).trim();
    expect(serial).toMatch(/^serial=01[0-9A-F]{32}$/);
  });

  it.each<[CaKeyAlgorithm, string]>([
    ['ecdsa-p384', 'ecdsa-with-SHA384'],
    ['rsa-2048', 'sha256WithRSAEncryption'],
  ])('creates a %s CA whose leaves verify', async (keyAlgorithm, signature) => {
    const o = options({ keyAlgorithm });
    const ca = await initCa(o);
    expect(ca.keyAlgorithm).toBe(keyAlgorithm);
    expect(openssl(['x509', '-in', join(o.dir, 'intermediate.pem'), '-noout', '-text'])).toContain(`Signature Algorithm: ${signature}`);
    await expectLeafVerifies(ca, o.dir);
  });

  it('refuses to write over any existing CA file', async () => {
    const o = options();
    await mkdir(o.dir, { recursive: true });
    await writeFile(join(o.dir, 'root.pem'), 'someone else\'s root\n');
    await expect(initCa(o)).rejects.toThrow(CaError);
    await expect(initCa(o)).rejects.toThrow(join(o.dir, 'root.pem'));
    expect(await readdir(o.dir)).toEqual(['root.pem']);
    expect(await readFile(join(o.dir, 'root.pem'), 'utf8')).toBe('someone else\'s root\n');
  });
});

describe('loadCa', () => {
  it('loads what initCa wrote: same root and chain, leaves verify, the configured key type does not matter', async () => {
    const o = options();
    const created = await initCa(o);
    const loaded = await loadCa({ ...o, keyAlgorithm: 'rsa-4096' });
    expect(loaded.rootsPem).toBe(created.rootsPem);
    expect(loaded.chainPem).toBe(created.chainPem);
    expect(loaded.rootsPem).toBe(await readFile(join(o.dir, 'root.pem'), 'utf8'));
    expect(loaded.keyAlgorithm).toBe('ecdsa-p256');
    expect(loaded.intermediateCertificate.subject).toBe('O=certmint test, CN=certmint test Intermediate CA');
    await expectLeafVerifies(loaded, o.dir);
  });

  it('names a missing file', async () => {
    const o = options();
    await initCa(o);
    await unlink(join(o.dir, 'intermediate.pem'));
    await expect(loadCa(o)).rejects.toThrow(`CA file ${join(o.dir, 'intermediate.pem')} (the intermediate CA certificate) is missing`);
  });

  it('names a corrupt key file', async () => {
    const o = options();
    await initCa(o);
    const keyFile = join(o.dir, 'intermediate.key.pem');
    await writeFile(keyFile, 'this is not a key\n');
    await expect(loadCa(o)).rejects.toThrow(`CA file ${keyFile} should hold the intermediate CA private key but has no PEM block in it`);
    await writeFile(keyFile, '-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n');
    await expect(loadCa(o)).rejects.toThrow(`CA file ${keyFile} is not a ecdsa-p256 private key`);
    await writeFile(keyFile, await readFile(join(o.dir, 'root.pem'), 'utf8'));
    await expect(loadCa(o)).rejects.toThrow(/should hold the intermediate CA private key \("BEGIN PRIVATE KEY"\) but holds "BEGIN CERTIFICATE"/);
  });

  it('tells how to convert a legacy EC key and refuses an encrypted one', async () => {
    const o = options();
    await initCa(o);
    const keyFile = join(o.dir, 'root.key.pem');
    const sec1 = openssl(['ec', '-in', keyFile]);
    await writeFile(keyFile, sec1);
    await expect(loadCa(o)).rejects.toThrow(/EC PRIVATE KEY \(legacy format\); certmint reads PKCS#8: convert it with: openssl pkcs8 -topk8 -nocrypt/);
    const encrypted = openssl(['pkcs8', '-topk8', '-in', keyFile, '-passout', 'pass:secret']);
    await writeFile(keyFile, encrypted);
    await expect(loadCa(o)).rejects.toThrow(
      `CA file ${keyFile} (the root CA private key) is an encrypted private key and no passphrase is configured: set ca.keyPassphraseFile`,
    );
    // openssl's own encryption (PBES2, PBKDF2-SHA256) loads with the passphrase; a wrong one is named as such.
    await expect(loadCa({ ...o, keyPassphrase: new KeyPassphrase(Buffer.from('secret'), 'a test') })).resolves.toBeDefined();
    await expect(loadCa({ ...o, keyPassphrase: new KeyPassphrase(Buffer.from('not it'), 'a test') })).rejects.toThrow(
      `cannot decrypt CA file ${keyFile} (the root CA private key): wrong passphrase? (it came from a test)`,
    );
  });

  it('refuses a key file that group or others may read, naming the fix', async () => {
    const o = options();
    await initCa(o);
    const keyFile = join(o.dir, 'intermediate.key.pem');
    await chmod(keyFile, 0o640);
    await expect(loadCa(o)).rejects.toThrow(`CA file ${keyFile} (the intermediate CA private key) has mode 0640`);
    await expect(loadCa(o)).rejects.toThrow(`Fix: chmod 600 ${keyFile}`);
    await chmod(keyFile, 0o400);
    await expect(loadCa(o)).resolves.toBeDefined();
  });

  it('writes every key encrypted when a passphrase is configured, and needs it to load them', async () => {
    const keyPassphrase = new KeyPassphrase(Buffer.from('correct horse'), 'a test');
    const o = options({ keyPassphrase });
    await initCa(o);
    for (const key of ['root.key.pem', 'intermediate.key.pem']) {
      const file = join(o.dir, key);
      expect(await readFile(file, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      // PBES2 + scrypt that openssl decrypts.
      expect(openssl(['asn1parse', '-in', file])).toMatch(/:scrypt\n[\s\S]*:aes-256-cbc\n/);
      expect(openssl(['pkey', '-in', file, '-passin', 'pass:correct horse', '-noout', '-text'])).toContain('NIST CURVE: P-256');
    }
    await expect(loadCa({ ...o, keyPassphrase: undefined })).rejects.toThrow('no passphrase is configured');
    await expectLeafVerifies(await loadCa(o), o.dir);
  });

  it('notices a key that does not belong to its certificate', async () => {
    const o = options();
    await initCa(o);
    // Both keys are valid P-256 PKCS#8, just swapped.
    const rootKey = await readFile(join(o.dir, 'root.key.pem'), 'utf8');
    await writeFile(join(o.dir, 'intermediate.key.pem'), rootKey);
    await expect(loadCa(o)).rejects.toThrow(
      `CA file ${join(o.dir, 'intermediate.key.pem')} holds a key that does not match the certificate in ${join(o.dir, 'intermediate.pem')}`,
    );
  });

  it('notices an intermediate from another CA', async () => {
    const a = options();
    const b = options();
    await initCa(a);
    await initCa(b);
    for (const file of ['intermediate.pem', 'intermediate.key.pem']) {
      await writeFile(join(a.dir, file), await readFile(join(b.dir, file)));
    }
    await expect(loadCa(a)).rejects.toThrow(`CA certificate ${join(a.dir, 'intermediate.pem')} was not issued by the root in ${join(a.dir, 'root.pem')}`);
  });

  it('reports a file it cannot read, and a certificate that is not one', async () => {
    const o = options();
    await initCa(o);
    const keyFile = join(o.dir, 'intermediate.key.pem');
    await unlink(keyFile);
    await mkdir(keyFile);
    await expect(loadCa(o)).rejects.toThrow(`CA file ${keyFile} (the intermediate CA private key) cannot be read: EISDIR`);
    const certFile = join(o.dir, 'root.pem');
    await writeFile(certFile, '-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n');
    await expect(loadCa(o)).rejects.toThrow(`CA file ${certFile} should hold the root CA certificate but is not a valid X.509 certificate`);
  });
});

describe('loadOrInitCa', () => {
  it('creates a CA on first start and loads the same one after', async () => {
    const o = options();
    const first = await loadOrInitCa(o);
    expect(first.created).toBe(true);
    const second = await loadOrInitCa(o);
    expect(second.created).toBe(false);
    expect(second.ca.rootsPem).toBe(first.ca.rootsPem);
    expect(second.ca.rootCertificate.serialNumber).toBe(first.ca.rootCertificate.serialNumber);
  });

  it('refuses to start over a partial CA and names the missing file', async () => {
    const o = options();
    await loadOrInitCa(o);
    const keyFile = join(o.dir, 'intermediate.key.pem');
    await unlink(keyFile);
    const error = await loadOrInitCa(o).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaError);
    expect((error as Error).message).toContain(`${keyFile} is missing`);
    expect((error as Error).message).toContain('will not create a new CA');
    // Nothing was created in its place.
    expect((await readdir(o.dir)).sort()).toEqual(['intermediate.pem', 'root.key.pem', 'root.pem']);
  });
});
