// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateCaKeyPair, type CaKeySpec } from './ca-keys.js';
import { subjectKeyIdOf } from './issuer-fields.js';
import type { KeyPassphrase } from './key-passphrase.js';
import { privateKeyPemOf } from './key-pem.js';
import { newSerialHex } from './serial.js';

/** CA certificates start an hour in the past so clients whose clocks lag still accept them at once. */
export const CA_BACKDATE_MS = 3_600_000;

/** What a root carries: CA, no path length limit, signs certificates and CRLs. */
function rootExtensions(): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

/** A new self-signed root: its key pair and certificate. */
export async function createRoot(
  spec: CaKeySpec,
  o: { subject: x509.Name; notBefore: Date; notAfter: Date },
  crypto: Crypto,
): Promise<{ certificate: x509.X509Certificate; keys: CryptoKeyPair }> {
  const keys = await generateCaKeyPair(spec, crypto);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerialHex(),
      name: o.subject,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      keys,
      signingAlgorithm: spec.signing,
      extensions: [...rootExtensions(), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto)],
    },
    crypto,
  );
  return { certificate, keys };
}

export interface CaSigner {
  /** The certificate of the CA that signs (its subject becomes the issuer, its SKI the AKI). */
  readonly certificate: x509.X509Certificate;
  readonly privateKey: CryptoKey;
  readonly spec: CaKeySpec;
  readonly crypto: Crypto;
}

/**
 * The cross certificate of a new root (certmint ca rotate-root): the new root's subject, public key
 * and SKI, issued and signed by the old root. A client that trusts only the old root verifies
 * leaf → intermediate → cross → old root; one that trusts the new root stops at the intermediate.
 * RFC 5280 §6.1: the validity must lie within the old root's for the path to validate.
 */
export async function createCrossCertificate(
  by: CaSigner,
  newRoot: x509.X509Certificate,
  o: { notBefore: Date; notAfter: Date },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerialHex(),
      subject: newRoot.subjectName,
      issuer: by.certificate.subjectName,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      // The SPKI DER as the new root carries it, byte for byte.
      publicKey: new Uint8Array(newRoot.publicKey.rawData),
      signingKey: by.privateKey,
      signingAlgorithm: by.spec.signing,
      extensions: [
        ...rootExtensions(),
        new x509.SubjectKeyIdentifierExtension(subjectKeyIdOf(newRoot)),
        new x509.AuthorityKeyIdentifierExtension(subjectKeyIdOf(by.certificate)),
      ],
    },
    by.crypto,
  );
}

/** A new intermediate key pair (of `spec`) and its certificate signed by a root. */
export async function createIntermediate(
  by: CaSigner,
  spec: CaKeySpec,
  o: { subject: x509.Name; notBefore: Date; notAfter: Date },
): Promise<{ certificate: x509.X509Certificate; keys: CryptoKeyPair }> {
  const keys = await generateCaKeyPair(spec, by.crypto);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerialHex(),
      subject: o.subject,
      issuer: by.certificate.subjectName,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      publicKey: keys.publicKey,
      signingKey: by.privateKey,
      signingAlgorithm: by.spec.signing,
      extensions: [
        // pathLen 0: the intermediate signs leaves, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, by.crypto),
        new x509.AuthorityKeyIdentifierExtension(subjectKeyIdOf(by.certificate)),
      ],
    },
    by.crypto,
  );
  return { certificate, keys };
}

/** A new key's file contents: PKCS#8 PEM, encrypted when a passphrase is configured. */
export async function keyPemOf(key: CryptoKey, crypto: Crypto, passphrase: KeyPassphrase | undefined): Promise<string> {
  const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
  try {
    return privateKeyPemOf(der, passphrase);
  } finally {
    der.fill(0);
  }
}

export function certificatePemOf(cert: x509.X509Certificate): string {
  return cert.toString('pem').replace(/\r\n/g, '\n') + '\n';
}
