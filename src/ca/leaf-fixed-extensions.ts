import { derOid, derSequence, derTlv } from './crl/der.js';

/*
 * The extensions every leaf of an intermediate carries, encoded here from their few fields. Built
 * through @peculiar/x509's extension classes (each encodes, then decodes what it encoded) they
 * were ~10 ms of each start's CA load for one template (issue 27); the bytes are the same
 * (leaf-fixed-extensions.test.ts compares them).
 */

const OCTET_STRING = 0x04;
const BOOLEAN_TRUE = Uint8Array.of(0x01, 0x01, 0xff);
/** GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String (RFC 5280 §4.2.1.6). */
const URI = 0x86;

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return derSequence(derOid(oid), ...(critical ? [BOOLEAN_TRUE] : []), derTlv(OCTET_STRING, value));
}

function uri(url: string): Uint8Array {
  return derTlv(URI, Buffer.from(url, 'ascii'));
}

/**
 * BasicConstraints (critical, cA false), AuthorityKeyIdentifier (keyIdentifier),
 * CRLDistributionPoints (one fullName URI) and AuthorityInfoAccess (caIssuers), in that order.
 */
export function leafFixedExtensions(keyIdHex: string, crlUrl: string, caIssuersUrl: string): Uint8Array[] {
  return [
    // RFC 5280 §4.2.1.9: cA DEFAULT FALSE is left out, and with no pathLenConstraint the SEQUENCE is empty.
    extension('2.5.29.19', true, derSequence()),
    // §4.2.1.1: SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    extension('2.5.29.35', false, derSequence(derTlv(0x80, Buffer.from(keyIdHex, 'hex')))),
    // §4.2.1.13: SEQUENCE OF DistributionPoint { distributionPoint [0] { fullName [0] IMPLICIT GeneralNames } }
    extension('2.5.29.31', false, derSequence(derSequence(derTlv(0xa0, derTlv(0xa0, uri(crlUrl)))))),
    // §4.2.2.1: SEQUENCE OF AccessDescription { id-ad-caIssuers, uniformResourceIdentifier }
    extension('1.3.6.1.5.5.7.1.1', false, derSequence(derSequence(derOid('1.3.6.1.5.5.7.48.2'), uri(caIssuersUrl)))),
  ];
}

/**
 * KeyUsage (critical): digitalSignature, and for an RSA key also keyEncipherment (RSA key
 * transport in TLS 1.2, RFC 5246 §7.4.7.1). RFC 5280 §4.2.1.3: a BIT STRING without its trailing
 * zero bits (unused bits 7: bit 0 only; 5: bits 0 and 2).
 */
export function leafKeyUsage(rsa: boolean): Uint8Array {
  return extension('2.5.29.15', true, rsa ? Uint8Array.of(0x03, 0x02, 0x05, 0xa0) : Uint8Array.of(0x03, 0x02, 0x07, 0x80));
}

/** ExtendedKeyUsage: id-kp-serverAuth, id-kp-clientAuth or both (RFC 5280 §4.2.1.12). */
export function leafExtendedKeyUsage(usage: 'server' | 'client' | 'both'): Uint8Array {
  const server = derOid('1.3.6.1.5.5.7.3.1');
  const client = derOid('1.3.6.1.5.5.7.3.2');
  return extension('2.5.29.37', false, derSequence(...(usage === 'server' ? [server] : usage === 'client' ? [client] : [server, client])));
}
