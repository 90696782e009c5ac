import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

/**
 * The RFC 9773 §4.1 certID as a client builds it from its certificate: base64url of the AKI
 * keyIdentifier "." base64url of the serial's DER content octets (sign byte included).
 */
export function certIdOf(der: Uint8Array): string {
  const aki = new x509.X509Certificate(Uint8Array.from(der)).getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new Error('the certificate has no AKI keyIdentifier');
  const serial = new Uint8Array(AsnConvert.parse(Uint8Array.from(der), Certificate).tbsCertificate.serialNumber);
  return `${Buffer.from(aki.keyId, 'hex').toString('base64url')}.${Buffer.from(serial).toString('base64url')}`;
}
