import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { leafExtendedKeyUsage, leafFixedExtensions, leafKeyUsage } from './leaf-fixed-extensions.js';

// What leafFixedExtensions replaced: the same extensions built through @peculiar/x509's classes.
function throughX509(keyIdHex: string, crlUrl: string, caIssuersUrl: string): Uint8Array[] {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.AuthorityKeyIdentifierExtension(keyIdHex),
    new x509.CRLDistributionPointsExtension([crlUrl]),
    new x509.AuthorityInfoAccessExtension({ caIssuers: caIssuersUrl }),
  ].map((e) => new Uint8Array(e.rawData));
}

describe('leafFixedExtensions', () => {
  it.each([
    ['a short key id and URLs', '0a1b', 'https://ca.example/crl', 'https://ca.example/intermediate.der'],
    ['a SHA-1 key id and a generation 2 intermediate', '8f3e9a1c0b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f', 'https://localhost:8443/crl/2', 'https://localhost:8443/intermediate/2.der'],
    ['URLs long enough for two-byte DER lengths', 'ff'.repeat(32), `https://${'crl.'.repeat(40)}example/crl/3/p/15`, `https://${'aia.'.repeat(40)}example/intermediate/3.der`],
  ])('are the bytes @peculiar/x509 encodes, for %s', (_, keyIdHex, crlUrl, caIssuersUrl) => {
    const ours = leafFixedExtensions(keyIdHex, crlUrl, caIssuersUrl).map((der) => Buffer.from(der).toString('hex'));
    expect(ours).toEqual(throughX509(keyIdHex, crlUrl, caIssuersUrl).map((der) => Buffer.from(der).toString('hex')));
  });
});

describe('leafKeyUsage and leafExtendedKeyUsage', () => {
  const hex = (der: Uint8Array | ArrayBuffer) => Buffer.from(new Uint8Array(der)).toString('hex');
  it('are the bytes @peculiar/x509 encodes', () => {
    expect(hex(leafKeyUsage(false))).toBe(hex(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true).rawData));
    expect(hex(leafKeyUsage(true))).toBe(hex(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true).rawData));
    expect(hex(leafExtendedKeyUsage('server'))).toBe(hex(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]).rawData));
    expect(hex(leafExtendedKeyUsage('client'))).toBe(hex(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]).rawData));
    expect(hex(leafExtendedKeyUsage('both'))).toBe(hex(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]).rawData));
  });
});
