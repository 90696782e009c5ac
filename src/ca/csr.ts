// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createPublicKey } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import type { Identifier } from '../core/identifier.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { canonicalIpAddress } from './ip-address.js';
import { readCommonCsr } from './csr-common.js';
import { canonicalSpki, KeyEncodingError } from '../core/canonical-key.js';
import type { ParsedCsr, PublicKeyInfo } from './types.js';

/** The bytes are not a PKCS#10 request we can read. The message says what to fix. */
export class CsrParseError extends Error {
  override readonly name = 'CsrParseError';
}

const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC = '1.2.840.10045.2.1';
const OID_ED25519 = x509.idEd25519;

/**
 * Parses a DER PKCS#10 request (RFC 2986) and checks its self-signature. A bad signature is
 * reported in `signatureValid`, not thrown, so the caller decides the problem type (RFC 8555
 * §7.4 finalize answers badCSR either way).
 */
export async function parseCsr(der: Uint8Array, crypto: Crypto = nativeCryptoProvider()): Promise<ParsedCsr> {
  requireSingleDerValue(der);
  // The shape every ACME client sends, read fast; anything else the full way below.
  let common;
  try {
    common = readCommonCsr(der);
  } catch (e) {
    if (e instanceof KeyEncodingError) throw new CsrParseError(`the CSR's public key is refused: ${e.message}`);
    throw e;
  }
  if (common) {
    let key: PublicKeyInfo;
    try {
      key = common.key ?? describePublicKey(common.spki);
    } catch (e) {
      if (e instanceof CsrParseError) throw e;
      throw new CsrParseError(`the CSR is not a valid PKCS#10 certificate request: ${errorText(e)}`);
    }
    return { der, spki: common.spki, key, signatureValid: common.signatureValid, commonName: common.commonName, sans: common.sans, unsupportedSans: [] };
  }
  return parseCsrFully(der, crypto);
}

/** The full way, through @peculiar/x509: every request parseCsr's fast path declines. Exported for the test that holds both to the same answers. */
export async function parseCsrFully(der: Uint8Array, crypto: Crypto = nativeCryptoProvider()): Promise<ParsedCsr> {
  requireSingleDerValue(der);
  let csr: x509.Pkcs10CertificateRequest;
  let spki: Uint8Array;
  let key: PublicKeyInfo;
  let commonName: string | undefined;
  try {
    csr = new x509.Pkcs10CertificateRequest(Uint8Array.from(der));
    spki = new Uint8Array(csr.publicKey.rawData);
    key = describePublicKey(spki);
    spki = canonicalKeyOf(spki);
    commonName = singleCommonName(csr.subjectName);
  } catch (e) {
    if (e instanceof CsrParseError) throw e;
    throw new CsrParseError(`the CSR is not a valid PKCS#10 certificate request: ${errorText(e)}`);
  }
  const { sans, unsupportedSans } = subjectAltNames(csr);
  let signatureValid: boolean;
  try {
    signatureValid = await csr.verify(crypto);
  } catch {
    // An algorithm the provider cannot verify, or a signature that is not even well-formed.
    signatureValid = false;
  }
  return { der, spki, key, signatureValid, commonName, sans, unsupportedSans };
}

/**
 * The canonical SPKI of the key (core/canonical-key.ts): what is certified, hashed and compared.
 * A key type certmint never certifies stays as sent, for policy to refuse by its type.
 */
function canonicalKeyOf(spki: Uint8Array): Uint8Array {
  try {
    const canonical = canonicalSpki(spki)?.der;
    return canonical ? new Uint8Array(canonical) : spki;
  } catch (e) {
    if (e instanceof KeyEncodingError) throw new CsrParseError(`the CSR's public key is refused: ${e.message}`);
    throw e;
  }
}

/** Describes a DER SubjectPublicKeyInfo for policy checks (also used for leaf key usage). */
export function describePublicKey(spki: Uint8Array): PublicKeyInfo {
  const info = AsnConvert.parse(spki, SubjectPublicKeyInfo);
  const oid = info.algorithm.algorithm;
  switch (oid) {
    case OID_RSA: {
      // Exact modulus bits from OpenSSL: a 2047-bit modulus must not round up to 2048.
      const details = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).asymmetricKeyDetails;
      if (details?.modulusLength === undefined || details.publicExponent === undefined) {
        throw new CsrParseError('the RSA public key in the CSR could not be read');
      }
      return { kind: 'rsa', bits: details.modulusLength, exponent: details.publicExponent };
    }
    case OID_EC: {
      const params = info.algorithm.parameters;
      return { kind: 'ec', curve: params ? curveName(new Uint8Array(params)) : 'missing curve parameters' };
    }
    case OID_ED25519:
      return { kind: 'ed25519' };
    default:
      return { kind: 'other', oid };
  }
}

const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
};

function curveName(params: Uint8Array): string {
  // ECParameters (RFC 5480 §2.1.1) is a CHOICE; certmint only understands namedCurve (an OID).
  const oid = decodeDerOid(params);
  if (oid === undefined) return 'explicit curve parameters';
  return CURVES[oid] ?? oid;
}

function decodeDerOid(der: Uint8Array): string | undefined {
  if (der[0] !== 0x06 || der[1] === undefined || der[1] >= 0x80 || der.length !== der[1] + 2 || der[1] === 0) {
    return undefined;
  }
  const arcs: number[] = [];
  let value = 0;
  for (const byte of der.subarray(2)) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

function singleCommonName(subject: x509.Name): string | undefined {
  const cns = subject.getField('CN');
  if (cns.length > 1) {
    throw new CsrParseError(`the CSR subject has ${cns.length} commonName attributes; send at most one`);
  }
  return cns[0];
}

function subjectAltNames(csr: x509.Pkcs10CertificateRequest): { sans: Identifier[]; unsupportedSans: string[] } {
  const sans: Identifier[] = [];
  const unsupportedSans: string[] = [];
  let names: readonly x509.GeneralName[];
  try {
    names = csr.getExtensions(id_ce_subjectAltName).flatMap(
      (ext) => new x509.SubjectAlternativeNameExtension(ext.rawData).names.items,
    );
  } catch (e) {
    throw new CsrParseError(`the CSR's subjectAltName extension could not be read: ${errorText(e)}`);
  }
  for (const name of names) {
    if (name.type === 'dns') {
      sans.push({ type: 'dns', value: name.value });
    } else if (name.type === 'ip') {
      // The ASN.1 layer already turned 4 or 16 octets into text; anything else (a CIDR or hex) is refused.
      const value = canonicalIpAddress(name.value);
      if (value === undefined) {
        throw new CsrParseError(`the CSR has an iPAddress SAN "${name.value}" that is not a 4- or 16-byte address`);
      }
      sans.push({ type: 'ip', value });
    } else {
      unsupportedSans.push(`${name.type}:${name.value}`);
    }
  }
  return { sans, unsupportedSans };
}

/** Refuses input that is not exactly one DER value: the parser ignores trailing bytes. */
function requireSingleDerValue(der: Uint8Array): void {
  const fail = (why: string): never => {
    throw new CsrParseError(`the CSR is not a DER-encoded PKCS#10 certificate request: ${why}`);
  };
  if (der.length < 2) fail(`${der.length} bytes is too short`);
  if (der[0] !== 0x30) fail('it does not start with a DER SEQUENCE (was it PEM or base64 instead of DER?)');
  const first = der[1]!;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || der.length < 2 + count) fail('its length field is malformed');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[2 + i]!;
    header = 2 + count;
  }
  if (header + length !== der.length) {
    fail(`its DER length says ${header + length} bytes but ${der.length} were sent`);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
