import { createHash, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identifier } from '../core/identifier.js';
import { CaError, initCa } from './ca-files.js';
import { newSerialHex } from './serial.js';
import type { IssuedLeaf, LeafRequest } from './types.js';
import type { X509CertificateAuthority } from './x509-authority.js';
import { openssl } from '../../test/support/ca-scratch.js';

let dir: string;
let ca: X509CertificateAuthority;
let files = 0;

async function writePem(der: Uint8Array): Promise<string> {
  files += 1;
  const path = join(dir, `leaf-${files}.pem`);
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  await writeFile(path, ['-----BEGIN CERTIFICATE-----', ...lines, '-----END CERTIFICATE-----', ''].join('\n'));
  return path;
}

/** What a user does with a downloaded certificate: verify it against the root, with the chain. */
async function verifyWithOpenssl(leaf: IssuedLeaf, purpose?: string): Promise<string> {
  const chain = join(dir, 'chain.pem');
  await writeFile(chain, ca.chainPem);
  await writeFile(join(dir, 'roots.pem'), ca.rootsPem);
  return openssl([
    'verify', ...(purpose ? ['-purpose', purpose] : []),
    '-CAfile', join(dir, 'roots.pem'), '-untrusted', chain, await writePem(leaf.der),
  ]);
}

async function writeDer(der: Uint8Array): Promise<string> {
  files += 1;
  const path = join(dir, `leaf-${files}.der`);
  await writeFile(path, der);
  return path;
}

async function text(leaf: IssuedLeaf): Promise<string> {
  return openssl(['x509', '-in', await writePem(leaf.der), '-noout', '-text']);
}

const KEYS: Record<string, () => KeyObject> = {
  'RSA 2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
  'ECDSA P-256': () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
  'ECDSA P-384': () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
  Ed25519: () => generateKeyPairSync('ed25519').publicKey,
};

/** The subjectPublicKey BIT STRING contents, computed without our code, for the RFC 5280 key id. */
function subjectPublicKeyBits(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs1', format: 'der' });
  const jwk = key.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  return jwk.y === undefined ? x : Buffer.concat([Buffer.from([4]), x, Buffer.from(jwk.y, 'base64url')]);
}

function colonHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

function request(key: KeyObject, identifiers: Identifier[], extra: Partial<LeafRequest> = {}): LeafRequest {
  const now = Date.now();
  return {
    spki: key.export({ type: 'spki', format: 'der' }),
    identifiers,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 30 * 86_400_000),
    serialHex: newSerialHex(),
    ...extra,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certmint-leaf-'));
  ca = await initCa({
    dir: join(dir, 'ca'),
    name: 'certmint test',
    crlUrl: 'http://certmint.test/crl',
    caIssuersUrl: 'http://certmint.test/intermediate.der',
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('X509CertificateAuthority.issueLeaf', () => {
  it.each(Object.keys(KEYS))('issues a %s leaf that openssl verifies for TLS servers and clients', async (kind) => {
    const key = KEYS[kind]!();
    const req = request(key, [
      { type: 'dns', value: 'app.example' },
      { type: 'ip', value: '192.0.2.7' },
      { type: 'ip', value: '2001:db8::7' },
    ], { commonName: 'app.example' });
    const leaf = await ca.issueLeaf(req);
    expect(await verifyWithOpenssl(leaf, 'sslserver')).toContain(': OK');
    expect(await verifyWithOpenssl(leaf, 'sslclient')).toContain(': OK');

    const t = await text(leaf);
    expect(t).toContain('Subject: CN = app.example');
    expect(t).toContain('Issuer: O = certmint test, CN = certmint test Intermediate CA');
    expect(t).toMatch(/X509v3 Subject Alternative Name: ?\n\s+DNS:app.example, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:7\n/);
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE\n/);
    expect(t).toMatch(/X509v3 Extended Key Usage: ?\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
    const keyUsage = kind.startsWith('RSA') ? 'Digital Signature, Key Encipherment' : 'Digital Signature';
    expect(t).toMatch(new RegExp(`X509v3 Key Usage: critical\\s+${keyUsage}\\n`));
    expect(t).toMatch(/X509v3 CRL Distribution Points: ?\n\s+Full Name:\s+URI:http:\/\/certmint.test\/crl\n/);
    expect(t).toMatch(/Authority Information Access: ?\n\s+CA Issuers - URI:http:\/\/certmint.test\/intermediate.der\n/);
    const intermediateSki = /Subject Key Identifier: ?\n\s+([0-9A-F:]+)\n/.exec(
      openssl(['x509', '-noout', '-text', '-in', join(dir, 'ca', 'intermediate.pem')]),
    )?.[1];
    expect(t).toMatch(new RegExp(`Authority Key Identifier: ?\\n\\s+(keyid:)?${intermediateSki}\\n`));
    const expectedSki = colonHex(createHash('sha1').update(subjectPublicKeyBits(key)).digest());
    expect(t).toMatch(new RegExp(`Subject Key Identifier: ?\\n\\s+${expectedSki}\\n`));
    expect(t).toContain('Signature Algorithm: ecdsa-with-SHA256');

    // The subject key is embedded byte for byte, and the serial is the one asked for.
    const pub = openssl(['x509', '-in', join(dir, `leaf-${files}.pem`), '-noout', '-pubkey']);
    expect(pub).toBe(key.export({ type: 'spki', format: 'pem' }));
    const serial = openssl(['x509', '-in', join(dir, `leaf-${files}.pem`), '-noout', '-serial']).trim();
    expect(serial).toBe(`serial=${req.serialHex.toUpperCase()}`);
    expect(leaf.serialHex).toBe(req.serialHex);
  });

  it('leaves the subject empty without a CN and makes the SAN critical (RFC 5280 §4.2.1.6)', async () => {
    const leaf = await ca.issueLeaf(
      request(KEYS['ECDSA P-256']!(), [
        { type: 'dns', value: 'a.example' },
        { type: 'dns', value: '*.b.example' },
        { type: 'ip', value: '::ffff:192.0.2.1' },
      ]),
    );
    const t = await text(leaf);
    expect(t).toMatch(/Subject: ?\n/);
    expect(t).toMatch(/X509v3 Subject Alternative Name: critical\s+DNS:a.example, DNS:\*.b.example, IP Address:0:0:0:0:0:FFFF:C000:201\n/);
    expect(await verifyWithOpenssl(leaf)).toContain(': OK');
  });

  it('puts a name longer than 64 characters only in the SAN', async () => {
    const long = `${'a'.repeat(60)}.example`;
    const leaf = await ca.issueLeaf(request(KEYS['ECDSA P-256']!(), [{ type: 'dns', value: long }], { commonName: long }));
    const t = await text(leaf);
    expect(t).toMatch(/Subject: ?\n/);
    expect(t).toContain(`X509v3 Subject Alternative Name: critical`);
  });

  it('writes a CN as PrintableString, or UTF8String when it has a character PrintableString lacks ("*")', async () => {
    const types = async (cn: string) => {
      const leaf = await ca.issueLeaf(request(KEYS['ECDSA P-256']!(), [{ type: 'dns', value: cn }], { commonName: cn }));
      const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', await writeDer(leaf.der)]);
      // The subject's CN is the last string before the subject key (the issuer's come first).
      const beforeKey = parsed.split('id-ecPublicKey')[0] ?? '';
      return [...beforeKey.matchAll(/(PRINTABLESTRING|UTF8STRING)\s*:(.*)/g)].at(-1)?.slice(1);
    };
    expect(await types('app.example')).toEqual(['PRINTABLESTRING', 'app.example']);
    expect(await types('*.app.example')).toEqual(['UTF8STRING', '*.app.example']);
  });

  it('uses the validity asked for, in whole seconds, and never past the intermediate', async () => {
    const notBefore = new Date('2031-02-03T04:05:06.789Z');
    const notAfter = new Date('2031-05-04T03:02:01.999Z');
    const leaf = await ca.issueLeaf(request(KEYS.Ed25519!(), [{ type: 'dns', value: 'v.example' }], { notBefore, notAfter }));
    expect(leaf.notBefore.toISOString()).toBe('2031-02-03T04:05:06.000Z');
    expect(leaf.notAfter.toISOString()).toBe('2031-05-04T03:02:01.000Z');
    const t = await text(leaf);
    expect(t).toContain('Not Before: Feb  3 04:05:06 2031 GMT');
    expect(t).toContain('Not After : May  4 03:02:01 2031 GMT');

    const end = ca.intermediateCertificate.notAfter;
    const clamped = await ca.issueLeaf(
      request(KEYS.Ed25519!(), [{ type: 'dns', value: 'v.example' }], { notAfter: new Date(end.getTime() + 86_400_000) }),
    );
    expect(clamped.notAfter).toEqual(end);
    await expect(
      ca.issueLeaf(request(KEYS.Ed25519!(), [{ type: 'dns', value: 'v.example' }], {
        notBefore: end,
        notAfter: new Date(end.getTime() + 1000),
      })),
    ).rejects.toThrow(/intermediate CA expired/);
  });

  it('refuses requests no certificate should come from', async () => {
    const key = KEYS['ECDSA P-256']!();
    const dns: Identifier[] = [{ type: 'dns', value: 'x.example' }];
    await expect(ca.issueLeaf(request(key, []))).rejects.toThrow(CaError);
    await expect(ca.issueLeaf(request(key, dns, { serialHex: '00' }))).rejects.toThrow(/serial/);
    await expect(ca.issueLeaf(request(key, dns, { serialHex: '8001' }))).rejects.toThrow(/serial/);
    await expect(ca.issueLeaf(request(key, dns, { serialHex: '0001' }))).rejects.toThrow(/serial/);
    await expect(ca.issueLeaf(request(key, dns, { serialHex: 'ABCD' }))).rejects.toThrow(/serial/);
    await expect(ca.issueLeaf(request(key, dns, { serialHex: '01'.repeat(21) }))).rejects.toThrow(/serial/);
    await expect(ca.issueLeaf(request(key, dns, { commonName: 'y.example' }))).rejects.toThrow(/not one of the identifiers/);
    await expect(ca.issueLeaf(request(key, dns, { notAfter: new Date(0) }))).rejects.toThrow(/not before notAfter/);
    await expect(ca.issueLeaf(request(key, [{ type: 'ip', value: '10.0.0.256' }]))).rejects.toThrow(/not an IP address/);
    await expect(ca.issueLeaf({ ...request(key, dns), spki: new Uint8Array([1, 2, 3]) })).rejects.toThrow(/SubjectPublicKeyInfo/);
    // A 00 sign byte is fine where DER needs it.
    const leaf = await ca.issueLeaf(request(key, dns, { serialHex: '00ff01' }));
    expect(openssl(['x509', '-in', await writePem(leaf.der), '-noout', '-serial']).trim()).toBe('serial=FF01');
  });

  it('exposes the PEMs and DER the server hands out', () => {
    expect(ca.rootsPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    expect(ca.chainPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    expect(Buffer.from(ca.intermediateDer).toString('base64')).toBe(
      ca.chainPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''),
    );
    expect(ca.rootCertificate.subject).toBe('O=certmint test, CN=certmint test Root CA');
  });

  // The rate is printed, not asserted (a figure of the machine); what is asserted is that 500
  // signings in flight at once each give the leaf asked for, signed by the intermediate.
  it('signs 500 leaves one at a time and 500 at once, each with its own serial (the rate is printed)', async () => {
    const spki = KEYS['ECDSA P-256']!().export({ type: 'spki', format: 'der' });
    const identifiers: Identifier[] = [{ type: 'dns', value: 'bench.example' }, { type: 'dns', value: 'www.bench.example' }];
    const count = 500;
    const now = Date.now();
    const issued: { serialHex: string; der: Uint8Array }[] = [];
    const one = async () => {
      const serialHex = newSerialHex();
      const leaf = await ca.issueLeaf({ spki, identifiers, notBefore: new Date(now), notAfter: new Date(now + 86_400_000), serialHex });
      issued.push({ serialHex, der: leaf.der });
    };
    await one(); // warm up
    let start = performance.now();
    for (let i = 0; i < count; i++) await one();
    const sequential = count / ((performance.now() - start) / 1000);
    start = performance.now();
    await Promise.all(Array.from({ length: count }, one));
    const concurrent = count / ((performance.now() - start) / 1000);
    console.log(
      `issueLeaf, ECDSA P-256 CA, P-256 subject key: ${sequential.toFixed(0)} leaves/s one at a time, ` +
        `${concurrent.toFixed(0)} leaves/s with ${count} in flight`,
    );
    // Checked after the timing, so the figures are of signing alone.
    const intermediate = new X509Certificate(Buffer.from(ca.intermediateDer));
    const bare = (hex: string) => hex.toLowerCase().replace(/^(00)+/, '');
    const wrong = issued.filter(({ serialHex, der }) => {
      const cert = new X509Certificate(Buffer.from(der));
      return bare(cert.serialNumber) !== bare(serialHex) || !cert.verify(intermediate.publicKey);
    });
    expect(issued).toHaveLength(2 * count + 1);
    expect(wrong.map((w) => w.serialHex)).toEqual([]);
  });
});
