// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { CaError } from './ca-file-io.js';

/*
 * What a CA takes from its own certificate to name itself in what it signs. RFC 5280 §7.1 matches
 * issuer to subject by comparing names, and many clients compare the bytes, so the subject is
 * copied from the certificate as it is encoded there, never parsed and encoded again.
 */

/** The key identifier that AuthorityKeyIdentifier extensions of things this CA signs carry. */
export function subjectKeyIdOf(cert: x509.X509Certificate): string {
  const value = extensionValueOf(cert, SUBJECT_KEY_IDENTIFIER_OID);
  // RFC 5280 §4.2.1.2: SubjectKeyIdentifier ::= KeyIdentifier ::= OCTET STRING
  const keyId = value && readTlv(value, 0, 'a SubjectKeyIdentifier extension');
  if (value && keyId?.tag === 0x04) return Buffer.from(value.subarray(keyId.contentStart, keyId.end)).toString('hex');
  // RFC 5280 §4.2.1.2 method 1, for a CA certificate brought in without an SKI.
  const spki = AsnConvert.parse(cert.publicKey.rawData, SubjectPublicKeyInfo);
  return createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest('hex');
}

/** The DER of the certificate's subject Name, byte for byte. */
export function subjectNameDer(cert: x509.X509Certificate): Uint8Array {
  const der = new Uint8Array(cert.rawData);
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.contentStart);
  // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject, … }
  let field = readTlv(der, tbs.contentStart);
  if (field.tag === 0xa0) field = readTlv(der, field.end);
  for (let skip = 0; skip < 4; skip++) field = readTlv(der, field.end); // serial, signature, issuer, validity
  if (field.tag !== 0x30) throw new CaError(`the certificate "${cert.subject}" has no subject Name where RFC 5280 puts it`);
  return der.slice(field.start, field.end);
}

/** DER of the OIDs read with extensionValueOf (content octets of the OBJECT IDENTIFIER). */
const SUBJECT_KEY_IDENTIFIER_OID = Uint8Array.of(0x55, 0x1d, 0x0e); // 2.5.29.14
export const NAME_CONSTRAINTS_OID_DER = Uint8Array.of(0x55, 0x1d, 0x1e); // 2.5.29.30

/**
 * The extnValue (the OCTET STRING's content) of the certificate's extension `oid` (its DER
 * content octets), or undefined. Read from the certificate's bytes: @peculiar/x509's
 * `extensions` decodes every extension of the certificate into its class, ~5-15 ms a CA
 * certificate, which each start paid for the two extensions it reads here (issue 27).
 */
export function extensionValueOf(cert: x509.X509Certificate, oid: Uint8Array): Uint8Array | undefined {
  const der = new Uint8Array(cert.rawData);
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.contentStart);
  // TBSCertificate ::= SEQUENCE { …, subjectPublicKeyInfo, [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions }
  for (let at = tbs.contentStart; at < tbs.end; ) {
    const field = readTlv(der, at);
    at = field.end;
    if (field.tag !== 0xa3) continue;
    const extensions = readTlv(der, field.contentStart);
    for (let e = extensions.contentStart; e < extensions.end; ) {
      // Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      const extension = readTlv(der, e);
      e = extension.end;
      const id = readTlv(der, extension.contentStart);
      if (id.tag !== 0x06 || !sameBytes(der.subarray(id.contentStart, id.end), oid)) continue;
      let value = readTlv(der, id.end);
      if (value.tag === 0x01) value = readTlv(der, value.end);
      if (value.tag !== 0x04) throw new CaError(`the certificate "${cert.subject}" has an extension without an OCTET STRING value`);
      return der.slice(value.contentStart, value.end);
    }
  }
  return undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** One DER tag-length-value at `start` (definite lengths only). @throws CaError when it runs past the end. */
export function readTlv(der: Uint8Array, start: number, what = 'a CA certificate'): Tlv {
  const tag = der[start];
  let length = der[start + 1];
  let contentStart = start + 2;
  if (tag === undefined || length === undefined) throw new CaError(`truncated DER in ${what}`);
  if (length >= 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[contentStart + i] ?? 0);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new CaError(`truncated DER in ${what}`);
  return { tag, start, contentStart, end };
}
