import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { extensionValueOf, NAME_CONSTRAINTS_OID_DER, subjectKeyIdOf } from './issuer-fields.js';

x509.cryptoProvider.set(webcrypto as Crypto);

async function caCertificate(extensions: (keys: CryptoKeyPair) => Promise<x509.Extension[]>): Promise<x509.X509Certificate> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  return x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=issuer fields',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2036-01-01T00:00:00Z'),
    extensions: await extensions(keys),
  });
}

// subjectKeyIdOf reads the certificate's bytes itself (issue 27): it must agree with the full decoding.
describe('subjectKeyIdOf', () => {
  it('is the SubjectKeyIdentifier as @peculiar/x509 decodes it, after a critical extension and before others', async () => {
    const cert = await caCertificate(async (keys) => [
      new x509.BasicConstraintsExtension(true, 0, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ]);
    const decoded = cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    expect(decoded).toMatch(/^[0-9a-f]{40}$/);
    expect(subjectKeyIdOf(cert)).toBe(decoded);
  });

  it('is RFC 5280 §4.2.1.2 method 1 (SHA-1 of the public key bits) for a certificate without one', async () => {
    const cert = await caCertificate(async () => [new x509.BasicConstraintsExtension(true, 0, true)]);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).toBeNull();
    const spkiDer = new Uint8Array(cert.publicKey.rawData);
    // A P-256 SubjectPublicKeyInfo ends with its BIT STRING: 00 (unused bits) then the 65-byte point.
    const keyBits = spkiDer.slice(spkiDer.length - 65);
    expect(subjectKeyIdOf(cert)).toBe(createHash('sha1').update(keyBits).digest('hex'));
  });
});

describe('extensionValueOf', () => {
  it('is the extnValue of the extension named, undefined for one the certificate lacks', async () => {
    const keyUsage = new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true);
    const cert = await caCertificate(async () => [new x509.BasicConstraintsExtension(true, 0, true), keyUsage]);
    expect(extensionValueOf(cert, Uint8Array.of(0x55, 0x1d, 0x0f))).toEqual(new Uint8Array(keyUsage.value));
    expect(extensionValueOf(cert, NAME_CONSTRAINTS_OID_DER)).toBeUndefined();
  });
});
