import { CaError } from './ca-file-io.js';
import { derOid, derSequence, derSerial, derTime, derTlv, type Der } from './crl/der.js';
import { readTlv } from './issuer-fields.js';

/*
 * The DER template of a leaf certificate (RFC 5280 §4.1), the way fast CAs build them: everything
 * one intermediate puts in every leaf (signature algorithm, issuer Name, BasicConstraints, AKI, CRL
 * distribution point, AIA, the key usage and EKU variants) is encoded once, and a leaf only fills in
 * its serial, validity, subject, key, SKI and SAN. A generic ASN.1 object model per leaf cost more
 * than signing it.
 */

const CONTEXT_0_CONSTRUCTED = 0xa0;
const CONTEXT_3_CONSTRUCTED = 0xa3;
const OCTET_STRING = 0x04;
const BOOLEAN_TRUE = Buffer.from([0x01, 0x01, 0xff]);
const VERSION_V3 = derTlv(CONTEXT_0_CONSTRUCTED, Buffer.from([0x02, 0x01, 0x02]));
const OID_COMMON_NAME = derOid('2.5.4.3');
const OID_SUBJECT_KEY_ID = derOid('2.5.29.14');
const OID_SUBJECT_ALT_NAME = derOid('2.5.29.17');
/** GeneralName dNSName [2] IA5String and iPAddress [7] OCTET STRING, both IMPLICIT (RFC 5280 §4.2.1.6). */
const DNS_NAME = 0x82;
const IP_ADDRESS = 0x87;
const PRINTABLE_STRING = 0x13;
const UTF8_STRING = 0x0c;
/** X.680 PrintableString: letters, digits, space and '()+,-./:=? (no "*" or "_"). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const EMPTY_NAME = derSequence();

/** What one intermediate puts in every leaf, as DER. */
export interface LeafTemplate {
  /** AlgorithmIdentifier, in TBSCertificate.signature and Certificate.signatureAlgorithm. */
  readonly signatureAlgorithm: Uint8Array;
  /** The issuer's subject Name, the exact bytes of its certificate. */
  readonly issuer: Uint8Array;
  /** Extensions after KU and EKU and before SKI and SAN, each a whole DER Extension, in order. */
  readonly fixedExtensions: readonly Uint8Array[];
}

export type LeafSan = { readonly type: 'dns'; readonly value: string } | { readonly type: 'ip'; readonly bytes: Uint8Array };

/** The parts of one leaf; each Uint8Array extension is a whole DER Extension. */
export interface LeafFields {
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly commonName?: string;
  /** DER SubjectPublicKeyInfo, embedded as is. */
  readonly spki: Uint8Array;
  readonly keyUsage: Uint8Array;
  readonly extendedKeyUsage: Uint8Array;
  /** The SubjectKeyIdentifier value (RFC 5280 §4.2.1.2). */
  readonly subjectKeyId: Uint8Array;
  readonly sans: readonly LeafSan[];
}

/** RFC 5280 §4.1.2: the TBSCertificate, ready to be signed. */
export function encodeTbsCertificate(t: LeafTemplate, f: LeafFields): Der {
  const subject = f.commonName === undefined ? EMPTY_NAME : commonNameDer(f.commonName);
  const generalNames = f.sans.map((san) => (san.type === 'dns' ? derTlv(DNS_NAME, Buffer.from(san.value, 'ascii')) : derTlv(IP_ADDRESS, san.bytes)));
  const extensions = [
    f.keyUsage,
    f.extendedKeyUsage,
    ...t.fixedExtensions,
    derSequence(OID_SUBJECT_KEY_ID, derTlv(OCTET_STRING, derTlv(OCTET_STRING, f.subjectKeyId))),
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension MUST be critical.
    derSequence(OID_SUBJECT_ALT_NAME, ...(f.commonName === undefined ? [BOOLEAN_TRUE] : []), derTlv(OCTET_STRING, derSequence(...generalNames))),
  ];
  return derSequence(
    VERSION_V3,
    derSerial(f.serialHex),
    t.signatureAlgorithm,
    t.issuer,
    derSequence(derTime(f.notBefore), derTime(f.notAfter)),
    subject,
    f.spki,
    derTlv(CONTEXT_3_CONSTRUCTED, derSequence(...extensions)),
  );
}

/** RFC 5280 §4.1.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function encodeCertificate(tbs: Uint8Array, t: LeafTemplate, signature: Uint8Array): Der {
  return derSequence(tbs, t.signatureAlgorithm, derTlv(0x03, Buffer.from([0]), signature));
}

/** Name ::= SEQUENCE { SET { SEQUENCE { id-at-commonName, PrintableString or UTF8String } } }. */
function commonNameDer(cn: string): Der {
  const value = PRINTABLE.test(cn) ? derTlv(PRINTABLE_STRING, Buffer.from(cn, 'ascii')) : derTlv(UTF8_STRING, Buffer.from(cn, 'utf8'));
  return derSequence(derTlv(0x31, derSequence(OID_COMMON_NAME, value)));
}

/** The subjectPublicKey bits (the BIT STRING contents after its unused-bits byte) and the algorithm OID TLV of a DER SubjectPublicKeyInfo. */
export function spkiParts(spki: Uint8Array): { readonly algorithmOid: Uint8Array; readonly subjectPublicKey: Uint8Array } {
  const notSpki = () => new CaError('the subject public key is not a DER SubjectPublicKeyInfo');
  try {
    const outer = readTlv(spki, 0);
    const algorithm = readTlv(spki, outer.contentStart);
    const oid = readTlv(spki, algorithm.contentStart);
    const key = readTlv(spki, algorithm.end);
    const wellFormed =
      outer.tag === 0x30 && outer.end === spki.length && algorithm.tag === 0x30 && oid.tag === 0x06 && key.tag === 0x03 && key.end === outer.end && key.end > key.contentStart;
    if (!wellFormed) throw notSpki();
    return { algorithmOid: spki.subarray(oid.start, oid.end), subjectPublicKey: spki.subarray(key.contentStart + 1, key.end) };
  } catch (e) {
    throw e instanceof CaError && e.message.startsWith('truncated') ? notSpki() : e;
  }
}
