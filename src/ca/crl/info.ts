// Before @peculiar/x509: its DI container needs the reflect polyfill at import time.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface CrlInfo {
  readonly issuer: string;
  readonly crlNumber: bigint | undefined;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: number;
}

/** What `certmint crl show` prints about a DER CRL. */
export function describeCrl(der: Uint8Array): CrlInfo {
  const crl = new x509.X509Crl(Uint8Array.from(der));
  // RFC 5280 §5.2.3 cRLNumber: extnValue holds a DER INTEGER (short-form length: at most 20 octets).
  const number = crl.extensions.find((e) => e.type === '2.5.29.20');
  const integer = number ? new Uint8Array(number.value) : undefined;
  return {
    issuer: crl.issuer,
    crlNumber: integer && integer[0] === 0x02 ? BigInt(`0x${Buffer.from(integer.subarray(2)).toString('hex') || '0'}`) : undefined,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    entries: crl.entries.length,
  };
}

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

function tlvAt(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start++]!;
  }
  if (start + length > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + length };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const child = tlvAt(der, p);
    out.push(child);
    p = child.end;
  }
  return out;
}

const CRL_NUMBER_OID = Buffer.from([0x55, 0x1d, 0x14]); // 2.5.29.20

/**
 * The cRLNumber of a DER CRL (RFC 5280 §5.2.3), read by walking only the TBS header and the
 * extensions: the revoked entries are skipped whole, so a CRL of 100,000 entries costs no more
 * than an empty one (a full ASN.1 parse of it exceeds @peculiar/asn1-schema's node limit).
 */
export function crlNumberOf(der: Uint8Array): bigint | undefined {
  const tbs = children(der, tlvAt(der, 0))[0];
  if (!tbs) return undefined;
  // Walk the TBS fields without descending into them; [0] EXPLICIT holds crlExtensions.
  const extensions = children(der, tbs).find((t) => t.tag === 0xa0);
  if (!extensions) return undefined;
  for (const extension of children(der, children(der, extensions)[0]!)) {
    const [oid, ...rest] = children(der, extension);
    if (!oid || !Buffer.from(der.subarray(oid.start, oid.end)).equals(CRL_NUMBER_OID)) continue;
    const value = rest[rest.length - 1]!;
    const integer = tlvAt(der, value.start);
    return BigInt(`0x${Buffer.from(der.subarray(integer.start, integer.end)).toString('hex') || '0'}`);
  }
  return undefined;
}
