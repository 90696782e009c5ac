import { constants, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Identifier } from '../core/identifier.js';
import type { PublicKeyInfo } from '../core/public-key.js';
import { canonicalSpki, KeyEncodingError } from '../core/canonical-key.js';
import { canonicalIpAddress } from './ip-address.js';

/*
 * The PKCS#10 requests ACME clients send (certbot, lego, cert-manager's Go client, acme-client)
 * all have one shape: a subject with at most one CN, the key, an extensionRequest with one
 * subjectAltName of dNSName and iPAddress entries, and an ECDSA, RSA PKCS#1 v1.5 or Ed25519
 * signature. This reads exactly that shape with a DER walk and checks the signature with
 * node:crypto, which together cost a fraction of the generic ASN.1 object model (about 2.5 ms a
 * request there). Anything else (BER, other string types, other SAN types, a second CN, PSS or
 * SHA-1 signatures) makes it return undefined, and csr.ts parses the request the full way, with
 * the errors that way gives.
 */

/** What csr.ts needs from a request of the common shape. */
export interface CommonCsr {
  /**
   * The key's canonical SPKI (core/canonical-key.ts): the bytes as sent when they already are, else
   * re-encoded; as sent only for a key of a type certmint never certifies (policy refuses it).
   */
  readonly spki: Uint8Array;
  /** The key as policy reads it, when node:crypto could load it as RSA, P-256/384/521 or Ed25519. */
  readonly key: PublicKeyInfo | undefined;
  readonly commonName: string | undefined;
  readonly sans: readonly Identifier[];
  readonly signatureValid: boolean;
}

class NotCommon extends Error {}

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** One DER TLV with a single-byte tag and a minimal definite length, inside [start, limit). */
function tlv(der: Uint8Array, start: number, limit: number): Tlv {
  if (start + 2 > limit) throw new NotCommon();
  const tag = der[start]!;
  if ((tag & 0x1f) === 0x1f) throw new NotCommon();
  let length = der[start + 1]!;
  let contentStart = start + 2;
  if (length >= 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || contentStart + count > limit || der[contentStart] === 0) throw new NotCommon();
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[contentStart + i]!;
    if (length < 0x80) throw new NotCommon();
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new NotCommon();
  return { tag, start, contentStart, end };
}

/** The TLVs that exactly fill `parent`'s content. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = tlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

function expectTag(t: Tlv | undefined, tag: number): Tlv {
  if (!t || t.tag !== tag) throw new NotCommon();
  return t;
}

const hex = (der: Uint8Array, t: Tlv): string => Buffer.from(der.subarray(t.start, t.end)).toString('hex');

const OID_COMMON_NAME = '0603550403';
const OID_EXTENSION_REQUEST = '06092a864886f70d01090e';
const OID_SUBJECT_ALT_NAME = '0603551d11';
const SEQUENCE = 0x30;
const SET = 0x31;
/** DirectoryString choices clients use for a CN. */
const STRING_TAGS = new Map<number, BufferEncoding>([
  [0x0c, 'utf8'],
  [0x13, 'latin1'],
  [0x16, 'latin1'],
]);

/** Signature algorithms by their DER OBJECT IDENTIFIER: the hash and how node:crypto verifies them. */
const SIGNATURES = new Map<string, { readonly hash: string | null; readonly rsa: boolean; readonly paramsAbsent: boolean }>([
  ['06082a8648ce3d040302', { hash: 'sha256', rsa: false, paramsAbsent: true }], // ecdsa-with-SHA256
  ['06082a8648ce3d040303', { hash: 'sha384', rsa: false, paramsAbsent: true }], // ecdsa-with-SHA384
  ['06082a8648ce3d040304', { hash: 'sha512', rsa: false, paramsAbsent: true }], // ecdsa-with-SHA512
  ['06092a864886f70d01010b', { hash: 'sha256', rsa: true, paramsAbsent: false }], // sha256WithRSAEncryption
  ['06092a864886f70d01010c', { hash: 'sha384', rsa: true, paramsAbsent: false }], // sha384WithRSAEncryption
  ['06092a864886f70d01010d', { hash: 'sha512', rsa: true, paramsAbsent: false }], // sha512WithRSAEncryption
  ['06032b6570', { hash: null, rsa: false, paramsAbsent: true }], // Ed25519 (RFC 8410: parameters absent)
]);

/** The request read the fast way, or undefined when it is not of the common shape. */
export function readCommonCsr(der: Uint8Array): CommonCsr | undefined {
  try {
    return read(der);
  } catch (e) {
    if (e instanceof NotCommon) return undefined;
    throw e;
  }
}

function read(der: Uint8Array): CommonCsr {
  const request = expectTag(tlv(der, 0, der.length), SEQUENCE);
  if (request.end !== der.length) throw new NotCommon();
  const [info, algorithm, signature, extra] = children(der, request);
  if (extra) throw new NotCommon();
  const infoTlv = expectTag(info, SEQUENCE);
  const [version, subject, spki, attributes, more] = children(der, infoTlv);
  if (more || hex(der, expectTag(version, 0x02)) !== '020100') throw new NotCommon();
  const commonName = readCommonName(der, expectTag(subject, SEQUENCE));
  const spkiTlv = expectTag(spki, SEQUENCE);
  const sans = attributes ? readSans(der, expectTag(attributes, 0xa0)) : [];

  const [oid, params, moreAlgorithm] = children(der, expectTag(algorithm, SEQUENCE));
  const spec = SIGNATURES.get(hex(der, expectTag(oid, 0x06)));
  if (!spec || moreAlgorithm) throw new NotCommon();
  // RFC 5758 §3.2 / RFC 8410 §3: parameters absent; RFC 4055 §5: NULL (absent tolerated).
  if (params && (spec.paramsAbsent || hex(der, params) !== '0500')) throw new NotCommon();
  const bits = expectTag(signature, 0x03);
  if (bits.end <= bits.contentStart || der[bits.contentStart] !== 0) throw new NotCommon();

  const sent = der.slice(spkiTlv.start, spkiTlv.end);
  let spkiDer: Uint8Array = sent;
  let key: KeyObject | undefined;
  const input = publicKeyInput(sent);
  if (input.format === 'jwk') {
    // Exactly the canonical DER of its key (see publicKeyInput): used as sent, at JWK cost.
    try {
      key = createPublicKey(input);
    } catch {
      key = undefined; // an EC point off its curve: csr.ts describes it the full way; its signature cannot verify.
    }
  } else {
    // Any other spelling (compressed or hybrid point, non-minimal DER, …): decoded by OpenSSL
    // once, then certified, hashed and compared only in its canonical form.
    try {
      const canonical = canonicalSpki(sent);
      if (canonical) spkiDer = new Uint8Array(canonical.der);
      key = canonical?.key ?? createPublicKey(input);
    } catch (e) {
      if (e instanceof KeyEncodingError) throw e;
      key = undefined;
    }
  }
  return {
    spki: spkiDer,
    key: key && describeKey(key),
    commonName,
    sans,
    signatureValid: key !== undefined && verifies(spec, key, der.subarray(infoTlv.start, infoTlv.end), der.subarray(bits.contentStart + 1, bits.end)),
  };
}

/*
 * OpenSSL 3.0 decodes a SubjectPublicKeyInfo through its generic decoder chain: about 0.16 ms here,
 * for every kind of key. The same key given as a JWK is built directly (RSA in 0.006 ms, a P-256
 * point, checked to be on the curve, in 0.09 ms). So the SPKIs clients send are read as JWKs when
 * they are exactly the DER of an uncompressed P-256/P-384 point (RFC 5480 §2), of an Ed25519 key
 * (RFC 8410 §4) or of an RSA key (RFC 3279 §2.3.1) with minimal, positive integers: exactly the
 * canonical DER of core/canonical-key.ts, so the bytes as sent are the key's canonical form.
 * Anything else goes to the decoder as it is, and read() re-encodes it canonically.
 */
const EC_SPKI_PREFIXES = [
  { crv: 'P-256', size: 32, prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex') },
  { crv: 'P-384', size: 48, prefix: Buffer.from('3076301006072a8648ce3d020106052b8104002203620004', 'hex') },
] as const;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const RSA_ALGORITHM = '300d06092a864886f70d0101010500';

type PublicKeyInput =
  | { readonly key: Buffer; readonly format: 'der'; readonly type: 'spki' }
  | { readonly key: JsonWebKey; readonly format: 'jwk' };

/** How createPublicKey reads `spki` fastest. Exported for the test that holds it to the DER's exact key. */
export function publicKeyInput(spki: Uint8Array): PublicKeyInput {
  const asDer = { key: Buffer.from(spki), format: 'der', type: 'spki' } as const;
  for (const { crv, size, prefix } of EC_SPKI_PREFIXES) {
    if (spki.length === prefix.length + 2 * size && prefix.equals(spki.subarray(0, prefix.length))) {
      const point = Buffer.from(spki.buffer, spki.byteOffset + prefix.length, 2 * size);
      return { key: { kty: 'EC', crv, x: point.subarray(0, size).toString('base64url'), y: point.subarray(size).toString('base64url') }, format: 'jwk' };
    }
  }
  if (spki.length === ED25519_SPKI_PREFIX.length + 32 && ED25519_SPKI_PREFIX.equals(spki.subarray(0, ED25519_SPKI_PREFIX.length))) {
    return { key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(spki.subarray(ED25519_SPKI_PREFIX.length)).toString('base64url') }, format: 'jwk' };
  }
  try {
    const outer = expectTag(tlv(spki, 0, spki.length), SEQUENCE);
    const [algorithm, bits, more] = children(spki, outer);
    if (outer.end !== spki.length || more || hex(spki, expectTag(algorithm, SEQUENCE)) !== RSA_ALGORITHM) return asDer;
    const bitString = expectTag(bits, 0x03);
    if (spki[bitString.contentStart] !== 0) return asDer;
    const rsaKey = expectTag(tlv(spki, bitString.contentStart + 1, bitString.end), SEQUENCE);
    if (rsaKey.end !== bitString.end) return asDer;
    const [n, e, extra] = children(spki, rsaKey);
    const modulus = positiveInteger(spki, n);
    const exponent = positiveInteger(spki, e);
    if (extra || modulus === undefined || exponent === undefined) return asDer;
    return { key: { kty: 'RSA', n: modulus.toString('base64url'), e: exponent.toString('base64url') }, format: 'jwk' };
  } catch {
    return asDer;
  }
}

/** The magnitude of a minimally encoded positive DER INTEGER; undefined for any other encoding. */
function positiveInteger(der: Uint8Array, t: Tlv | undefined): Buffer | undefined {
  if (t?.tag !== 0x02 || t.end <= t.contentStart) return undefined;
  const first = der[t.contentStart]!;
  if (first & 0x80) return undefined; // negative
  if (first === 0) {
    // A leading zero only where the next byte would otherwise read as negative.
    if (t.end - t.contentStart < 2 || !(der[t.contentStart + 1]! & 0x80)) return undefined;
    return Buffer.from(der.subarray(t.contentStart + 1, t.end));
  }
  return Buffer.from(der.subarray(t.contentStart, t.end));
}

const CURVE_NAMES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** As csr.ts describePublicKey would, for the key types clients use; undefined for the rest. */
function describeKey(key: KeyObject): PublicKeyInfo | undefined {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return details?.modulusLength !== undefined && details.publicExponent !== undefined
        ? { kind: 'rsa', bits: details.modulusLength, exponent: details.publicExponent }
        : undefined;
    case 'ec': {
      const curve = details?.namedCurve !== undefined ? CURVE_NAMES[details.namedCurve] : undefined;
      return curve !== undefined ? { kind: 'ec', curve } : undefined;
    }
    case 'ed25519':
      return { kind: 'ed25519' };
    default:
      return undefined;
  }
}

function verifies(spec: { hash: string | null; rsa: boolean }, key: KeyObject, signed: Uint8Array, signature: Uint8Array): boolean {
  try {
    // The key must be of the signature's kind: an RSA signature over an EC key is no signature.
    const kind = key.asymmetricKeyType;
    if (spec.rsa !== (kind === 'rsa') || (spec.hash === null) !== (kind === 'ed25519')) return false;
    return verify(spec.hash, signed, spec.rsa ? { key, padding: constants.RSA_PKCS1_PADDING } : key, signature);
  } catch {
    return false;
  }
}

/** The single CN of a subject Name, if any; other attributes are not ACME's concern. */
function readCommonName(der: Uint8Array, name: Tlv): string | undefined {
  let cn: string | undefined;
  for (const rdn of children(der, name)) {
    for (const atv of children(der, expectTag(rdn, SET))) {
      const [type, value, more] = children(der, expectTag(atv, SEQUENCE));
      if (more || !value || hex(der, expectTag(type, 0x06)) !== OID_COMMON_NAME) continue;
      const encoding = STRING_TAGS.get(value.tag);
      // A second CN is an error the full parser words; so are string types other than these.
      if (!encoding || cn !== undefined) throw new NotCommon();
      cn = Buffer.from(der.subarray(value.contentStart, value.end)).toString(encoding);
    }
  }
  return cn;
}

/** dNSName and iPAddress entries of the one subjectAltName in the one extensionRequest attribute. */
function readSans(der: Uint8Array, attributes: Tlv): Identifier[] {
  let sans: Identifier[] | undefined;
  let seenExtensionRequest = false;
  for (const attribute of children(der, attributes)) {
    const [type, values, more] = children(der, expectTag(attribute, SEQUENCE));
    if (more || hex(der, expectTag(type, 0x06)) !== OID_EXTENSION_REQUEST) continue;
    const [extensions, moreValues] = children(der, expectTag(values, SET));
    if (seenExtensionRequest || moreValues) throw new NotCommon();
    seenExtensionRequest = true;
    for (const extension of children(der, expectTag(extensions, SEQUENCE))) {
      const parts = children(der, expectTag(extension, SEQUENCE));
      if (hex(der, expectTag(parts[0], 0x06)) !== OID_SUBJECT_ALT_NAME) continue;
      if (sans !== undefined) throw new NotCommon();
      const value = expectTag(parts.at(-1), 0x04);
      sans = children(der, expectTag(tlv(der, value.contentStart, value.end), SEQUENCE)).map((name) => generalName(der, name));
    }
  }
  return sans ?? [];
}

function generalName(der: Uint8Array, name: Tlv): Identifier {
  const content = der.subarray(name.contentStart, name.end);
  if (name.tag === 0x82) {
    // IA5String: 7-bit only.
    if (content.some((b) => b > 0x7f)) throw new NotCommon();
    return { type: 'dns', value: Buffer.from(content).toString('latin1') };
  }
  if (name.tag === 0x87 && (content.length === 4 || content.length === 16)) {
    const text =
      content.length === 4
        ? Array.from(content).join('.')
        : Array.from({ length: 8 }, (_, i) => ((content[2 * i]! << 8) | content[2 * i + 1]!).toString(16)).join(':');
    const value = canonicalIpAddress(text);
    if (value === undefined) throw new NotCommon();
    return { type: 'ip', value };
  }
  // Other GeneralName types (email, URI, …) are refused by csr.ts with their names spelled out.
  throw new NotCommon();
}
