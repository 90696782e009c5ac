import { CaError } from '../ca-error.js';
import type { CaKeyAlgorithm, CrlRequest, RevokedEntry } from '../types.js';

/*
 * A DER encoder for exactly what an RFC 5280 §5 CRL holds. Hand-written rather than built from
 * @peculiar/asn1-x509 objects because a CRL can list 100,000 certificates, and one schema object
 * per entry (plus its serializer's intermediate buffers) costs seconds; here every entry is
 * written straight into one preallocated Buffer.
 */

/** DER bytes on a plain ArrayBuffer, as WebCrypto takes them. */
export type Der = Buffer<ArrayBuffer>;

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const NULL = 0x05;
const OID = 0x06;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
/** crlExtensions [0] EXPLICIT (RFC 5280 §5.1). */
const CONTEXT_0_CONSTRUCTED = 0xa0;
/** AuthorityKeyIdentifier keyIdentifier [0] IMPLICIT OCTET STRING (RFC 5280 §4.2.1.1). */
const CONTEXT_0_PRIMITIVE = 0x80;

/** RFC 5280 §5.3.1 CRLReason: 0-10, 7 unused. */
const MAX_REASON = 10;
const REASON_UNUSED = 7;
/** Upper bound of one entry: SEQUENCE header 2, INTEGER 2+20, GeneralizedTime 2+15, reasonCode extension 14. */
const MAX_ENTRY_BYTES = 56;
/** The entry extensions SEQUENCE { Extension { id-ce-cRLReasons, OCTET STRING { ENUMERATED <reason> } } }. */
const REASON_EXTENSIONS = Buffer.from('300c300a0603551d1504030a01', 'hex');

const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_CRL_NUMBER = '2.5.29.20';

export function derLength(length: number): Der {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, ...content: readonly Uint8Array[]): Der {
  const length = content.reduce((sum, part) => sum + part.length, 0);
  return Buffer.concat([Buffer.from([tag]), derLength(length), ...content]);
}

export function derSequence(...content: readonly Uint8Array[]): Der {
  return derTlv(SEQUENCE, ...content);
}

export function derOid(dotted: string): Der {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const base128 = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) base128.unshift(0x80 | (n & 0x7f));
    bytes.push(...base128);
  }
  return derTlv(OID, Buffer.from(bytes));
}

/** A DER INTEGER holding an unsigned big-endian magnitude: minimal, with a 0x00 before a high bit. */
export function derUnsignedInteger(magnitude: Uint8Array): Der {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  const pad = bytes.length === 0 || (bytes[0] ?? 0) >= 0x80;
  return derTlv(INTEGER, ...(pad ? [Buffer.from([0])] : []), bytes);
}

export function derBigInteger(value: bigint): Der {
  if (value < 0n) throw new CaError(`cannot encode the negative integer ${value}`);
  const hex = value.toString(16);
  return derUnsignedInteger(Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex'));
}

/**
 * RFC 5280 §5.1.2.4/§5.1.2.6 (as §4.1.2.5): UTCTime for 1950-2049, GeneralizedTime otherwise,
 * both in UTC ("Z") with whole seconds and no fraction. Writes at `offset` and returns the end,
 * or -1 for a date neither can hold.
 */
function writeTime(buf: Buffer, offset: number, date: Date): number {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return -1; // NaN for an invalid Date
  let o = offset;
  if (year >= 1950 && year <= 2049) {
    buf[o++] = UTC_TIME;
    buf[o++] = 13;
    o = write2(buf, o, year % 100);
  } else {
    buf[o++] = GENERALIZED_TIME;
    buf[o++] = 15;
    o = write2(buf, o, Math.floor(year / 100));
    o = write2(buf, o, year % 100);
  }
  o = write2(buf, o, date.getUTCMonth() + 1);
  o = write2(buf, o, date.getUTCDate());
  o = write2(buf, o, date.getUTCHours());
  o = write2(buf, o, date.getUTCMinutes());
  o = write2(buf, o, date.getUTCSeconds());
  buf[o++] = 0x5a; // 'Z'
  return o;
}

function write2(buf: Buffer, offset: number, n: number): number {
  buf[offset] = 0x30 + Math.floor(n / 10);
  buf[offset + 1] = 0x30 + (n % 10);
  return offset + 2;
}

export function derTime(date: Date): Der {
  const buf = Buffer.alloc(17);
  const end = writeTime(buf, 0, date);
  if (end < 0) throw new CaError(`the time ${String(date)} is not a date a CRL can hold`);
  return buf.subarray(0, end);
}

/**
 * Writes a serial number INTEGER at `offset` and returns its end, or -1 if `serialHex` is not one.
 * Serials are lower-case hex of a positive integer, either as DER writes it ("00ff01", which
 * issueLeaf takes) or without the sign byte ("ff01"), which is added here. RFC 5280 §4.1.2.2: at
 * most 20 content octets. A char-code loop rather than a RegExp and Buffer.write: this runs once per
 * CRL entry.
 */
function writeSerial(buf: Buffer, offset: number, serialHex: string): number {
  const digits = serialHex.length;
  if (digits === 0 || digits % 2 !== 0) return -1;
  const first = hexByte(serialHex, 0);
  // A leading 00 only where DER needs it, before a byte >= 0x80; anything else is zero or not minimal.
  if (first === 0 && (digits === 2 || hexByte(serialHex, 2) < 0x80)) return -1;
  const pad = first >= 0x80 ? 1 : 0;
  const length = digits / 2 + pad;
  if (length > 20) return -1;
  let o = offset;
  buf[o++] = INTEGER;
  buf[o++] = length;
  if (pad === 1) buf[o++] = 0;
  for (let i = 0; i < digits; i += 2) {
    const byte = hexByte(serialHex, i);
    if (byte < 0) return -1;
    buf[o++] = byte;
  }
  return o;
}

/** The byte of two lower-case hex digits at `i`, or a negative number. */
function hexByte(hex: string, i: number): number {
  const hi = hexDigit(hex.charCodeAt(i));
  const lo = hexDigit(hex.charCodeAt(i + 1));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  if (c >= 0x61 && c <= 0x66) return c - 0x57; // a-f
  return -1;
}

function badSerial(serialHex: string): CaError {
  return new CaError(`CRL entry serial "${serialHex}" is not the lower-case hex of a positive integer of at most 20 octets`);
}

/** The serial number INTEGER of a CRL entry. */
export function derSerial(serialHex: string): Der {
  const buf = Buffer.alloc(22);
  const end = writeSerial(buf, 0, serialHex);
  if (end < 0) throw badSerial(serialHex);
  return buf.subarray(0, end);
}

function writeEntry(buf: Buffer, offset: number, entry: RevokedEntry): number {
  const reason = entry.reason;
  if (!Number.isInteger(reason) || reason < 0 || reason > MAX_REASON || reason === REASON_UNUSED) {
    throw new CaError(`CRL entry ${entry.serialHex} has reason ${reason}, which is not an RFC 5280 CRLReason code`);
  }
  const contentStart = offset + 2;
  let o = writeSerial(buf, contentStart, entry.serialHex);
  if (o < 0) throw badSerial(entry.serialHex);
  o = writeTime(buf, o, entry.revokedAt);
  if (o < 0) throw new CaError(`the revocation date of ${entry.serialHex} is not a date a CRL can hold`);
  // RFC 5280 §5.3.1: the reasonCode extension is absent rather than "unspecified" (0).
  if (reason !== 0) {
    // A byte loop, not Buffer.copy: 13 bytes do not pay for a call into C++.
    for (let i = 0; i < REASON_EXTENSIONS.length; i++) buf[o++] = REASON_EXTENSIONS[i] ?? 0;
    buf[o++] = reason;
  }
  // At most MAX_ENTRY_BYTES - 2 of content: the length always fits in one byte.
  buf[offset] = SEQUENCE;
  buf[offset + 1] = o - contentStart;
  return o;
}

/** The parts of a TBSCertList that are the same in every CRL one issuer signs: built once per CA. */
export interface CrlIssuerDer {
  /** The issuer's subject Name, the exact bytes from its certificate. */
  readonly name: Uint8Array;
  /** The AuthorityKeyIdentifier Extension (keyIdentifier = the issuer's SKI). */
  readonly authorityKeyId: Uint8Array;
  /** The AlgorithmIdentifier the issuer signs with (in TBSCertList.signature and CertificateList). */
  readonly signatureAlgorithm: Uint8Array;
}

export function crlIssuerDer(name: Uint8Array, subjectKeyId: Uint8Array, algorithm: CaKeyAlgorithm): CrlIssuerDer {
  return {
    name: Uint8Array.from(name),
    // RFC 5280 §5.2.1: MUST be in every CRL; non-critical (BOOLEAN DEFAULT FALSE left out).
    authorityKeyId: derSequence(
      derOid(OID_AUTHORITY_KEY_ID),
      derTlv(OCTET_STRING, derSequence(derTlv(CONTEXT_0_PRIMITIVE, subjectKeyId))),
    ),
    signatureAlgorithm: signatureAlgorithmDer(algorithm),
  };
}

/** RFC 5758 §3.2 (ECDSA: parameters absent) and RFC 4055 §5 (PKCS#1 v1.5: parameters NULL). */
export function signatureAlgorithmDer(algorithm: CaKeyAlgorithm): Der {
  switch (algorithm) {
    case 'ecdsa-p256':
      return derSequence(derOid('1.2.840.10045.4.3.2'));
    case 'ecdsa-p384':
      return derSequence(derOid('1.2.840.10045.4.3.3'));
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return derSequence(derOid('1.2.840.113549.1.1.11'), Buffer.from([NULL, 0]));
  }
}

/**
 * RFC 5280 §5.1.2: the TBSCertList, v2, ready to be signed. `extensions`: crlExtensions after the
 * AKI and the CRL number (a partition's Issuing Distribution Point, partitions.ts).
 */
export function encodeTbsCertList(
  issuer: CrlIssuerDer,
  request: CrlRequest & { entries: readonly RevokedEntry[] },
  extensions: readonly Uint8Array[] = [],
): Der {
  if (!(request.thisUpdate < request.nextUpdate)) {
    throw new CaError(`CRL nextUpdate ${String(request.nextUpdate)} is not after thisUpdate ${String(request.thisUpdate)}`);
  }
  const crlNumber = derBigInteger(request.crlNumber);
  // RFC 5280 §5.2.3: CRL numbers are at most 20 octets.
  if (crlNumber.length > 22) throw new CaError(`CRL number ${request.crlNumber} is longer than 20 octets`);

  const entries = request.entries;
  const parts: Uint8Array[] = [
    Buffer.from([INTEGER, 1, 1]), // version v2
    issuer.signatureAlgorithm,
    issuer.name,
    derTime(request.thisUpdate),
    derTime(request.nextUpdate),
  ];
  // RFC 5280 §5.1.2.6: with no revoked certificates the field is absent, not an empty SEQUENCE.
  if (entries.length > 0) {
    const body = Buffer.allocUnsafe(entries.length * MAX_ENTRY_BYTES);
    let end = 0;
    for (const entry of entries) end = writeEntry(body, end, entry);
    parts.push(Buffer.from([SEQUENCE]), derLength(end), body.subarray(0, end));
  }
  const crlNumberExtension = derSequence(derOid(OID_CRL_NUMBER), derTlv(OCTET_STRING, crlNumber));
  parts.push(derTlv(CONTEXT_0_CONSTRUCTED, derSequence(issuer.authorityKeyId, crlNumberExtension, ...extensions)));
  return derSequence(...parts);
}

/** RFC 5280 §5.1: CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }. */
export function encodeCertificateList(tbs: Uint8Array, issuer: CrlIssuerDer, signature: Uint8Array): Der {
  return derSequence(tbs, issuer.signatureAlgorithm, derTlv(0x03, Buffer.from([0]), signature));
}

/**
 * WebCrypto's ECDSA signature is IEEE P1363 (r || s, each as long as the curve order); X.509
 * wants Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2 / RFC 3279 §2.2.3).
 */
export function ecdsaSignatureToDer(p1363: Uint8Array): Der {
  if (p1363.length === 0 || p1363.length % 2 !== 0) {
    throw new CaError(`an ECDSA signature of ${p1363.length} bytes is not r || s`);
  }
  const half = p1363.length / 2;
  return derSequence(derUnsignedInteger(p1363.subarray(0, half)), derUnsignedInteger(p1363.subarray(half)));
}
