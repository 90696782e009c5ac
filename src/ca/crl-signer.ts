// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import type * as x509 from '@peculiar/x509';
import type { CaKeySpec } from './ca-keys.js';
import { crlIssuerDer, ecdsaSignatureToDer, encodeCertificateList, encodeTbsCertList, type CrlIssuerDer } from './crl-der.js';
import { subjectKeyIdOf, subjectNameDer } from './issuer-fields.js';
import type { CrlRequest } from './types.js';

/** A CA certificate with its signing key, and the CRL parts that never change for it. */
export interface CrlIssuer {
  readonly der: CrlIssuerDer;
  /** Non-extractable, usage "sign". */
  readonly key: CryptoKey;
  readonly keySpec: CaKeySpec;
  readonly crypto: Crypto;
}

export function crlIssuerOf(cert: x509.X509Certificate, key: CryptoKey, keySpec: CaKeySpec, crypto: Crypto): CrlIssuer {
  const der = crlIssuerDer(subjectNameDer(cert), Buffer.from(subjectKeyIdOf(cert), 'hex'), keySpec.algorithm);
  return { der, key, keySpec, crypto };
}

/** RFC 5280 §5: a DER CertificateList signed by `issuer`. */
export async function signCrlAs(issuer: CrlIssuer, request: CrlRequest): Promise<Uint8Array> {
  const tbs = encodeTbsCertList(issuer.der, request);
  const signature = new Uint8Array(await issuer.crypto.subtle.sign(issuer.keySpec.signing, issuer.key, tbs));
  const signatureValue = issuer.keySpec.signing.name === 'ECDSA' ? ecdsaSignatureToDer(signature) : signature;
  const crl = encodeCertificateList(tbs, issuer.der, signatureValue);
  return new Uint8Array(crl.buffer, crl.byteOffset, crl.byteLength);
}
