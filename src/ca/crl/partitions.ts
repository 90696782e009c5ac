import { CaError } from '../ca-error.js';
import { derOid, derSequence, derTlv, type Der } from './der.js';

/*
 * Partitioned CRLs (crl.partitions > 1): each leaf names one of N CRLs of its generation in its
 * CRL distribution point, and that CRL says which one it is in a critical Issuing Distribution
 * Point (RFC 5280 §5.2.5), so a relying party never takes one partition's CRL for another's.
 */

/** crl.partitions at most (partition numbers 0-255, what the ledger's column allows). */
export const MAX_CRL_PARTITIONS = 256;

/**
 * The partition of a new certificate: its serial modulo N. Serials are random (ca/serial.ts), so
 * partitions fill evenly, and the choice is stable: the same serial always lands in the same one.
 */
export function crlPartitionOf(serialHex: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_CRL_PARTITIONS) {
    throw new CaError(`crl.partitions must be an integer from 1 to ${MAX_CRL_PARTITIONS}, not ${partitions}`);
  }
  if (!/^[0-9a-f]+$/.test(serialHex)) throw new CaError(`serial "${serialHex}" is not lower-case hex`);
  return Number(BigInt(`0x${serialHex}`) % BigInt(partitions));
}

/**
 * The CRL distribution point of a partition: `<base>/crl/<generation>/<partition>`, generation 1
 * included (uniform, and distinct from the whole generation's /crl and /crl/<n>). `crlUrl` is the
 * CRL URL of generation 1's leaves (`<base>/crl`, CaOptions.crlUrl).
 */
export function partitionCrlUrl(crlUrl: string, generation: number, partition: number): string {
  return `${crlUrl}/${generation}/${partition}`;
}

const OID_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const BOOLEAN_TRUE = Buffer.from([0x01, 0x01, 0xff]);
/** [0] constructed: distributionPoint (explicit: a CHOICE) and, inside it, fullName (IMPLICIT GeneralNames). */
const CONTEXT_0_CONSTRUCTED = 0xa0;
/** GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String. */
const CONTEXT_6_PRIMITIVE = 0x86;
/** onlyContainsUserCerts [1] IMPLICIT BOOLEAN, TRUE. */
const ONLY_CONTAINS_USER_CERTS = Buffer.from([0x81, 0x01, 0xff]);

/**
 * The crlExtensions entry of a partition's CRL: a critical IssuingDistributionPoint (RFC 5280
 * §5.2.5) whose distributionPoint fullName is exactly the URL its leaves carry, and
 * onlyContainsUserCerts (a leaf CRL lists no CA certificates). @peculiar/x509 has no class for it;
 * these few bytes are written here as the rest of the CRL is (der.ts).
 *
 *   Extension ::= SEQUENCE { extnID 2.5.29.28, critical TRUE, extnValue OCTET STRING {
 *     IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] { [6] url } },
 *       onlyContainsUserCerts [1] TRUE } } }
 */
export function issuingDistributionPointExtension(url: string): Der {
  // IA5String: ASCII only (RFC 5280 §4.2.1.6 wants URIs already percent-encoded).
  if (!/^[\x20-\x7e]+$/.test(url)) throw new CaError(`the CRL distribution point "${url}" is not an ASCII URI`);
  const fullName = derTlv(CONTEXT_0_CONSTRUCTED, derTlv(CONTEXT_6_PRIMITIVE, Buffer.from(url, 'ascii')));
  const idp = derSequence(derTlv(CONTEXT_0_CONSTRUCTED, fullName), ONLY_CONTAINS_USER_CERTS);
  return derSequence(derOid(OID_ISSUING_DISTRIBUTION_POINT), BOOLEAN_TRUE, derTlv(0x04, idp));
}
