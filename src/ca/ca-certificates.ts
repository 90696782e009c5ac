// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import type { CaSigningKey } from './ca-key.js';
import { ecdsaSignatureToDer, signatureAlgorithmDer } from './crl/der.js';
import { subjectKeyIdOf, subjectNameDer } from './issuer-fields.js';
import { spkiParts } from './leaf-der.js';
import { hasNameConstraints, nameConstraintsExtension, type NameConstraints } from './name-constraints.js';
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

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING (what @peculiar/x509 computes too). */
export function subjectKeyIdExtension(spki: Uint8Array): x509.SubjectKeyIdentifierExtension {
  return new x509.SubjectKeyIdentifierExtension(createHash('sha1').update(spkiParts(spki).subjectPublicKey).digest('hex'));
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export interface CaCertificateFields {
  readonly subject: Uint8Array;
  /** The issuer's subject Name, the exact bytes of its certificate (or the subject, self-signed). */
  readonly issuer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo of the certified key. */
  readonly spki: Uint8Array;
  readonly extensions: readonly x509.Extension[];
}

/**
 * RFC 5280 §4.1: the TBSCertificate built here and signed through the CaSigningKey, so that a CA
 * certificate is signed wherever its issuer's key lives (a file, a token), like leaves and CRLs.
 * Also how the admin issuer (admin-issuer.ts) signs its own certificate and admin client certificates.
 */
export async function signCaCertificate(by: CaSigningKey, f: CaCertificateFields): Promise<x509.X509Certificate> {
  const algorithm = (): asn1.AlgorithmIdentifier => AsnConvert.parse(signatureAlgorithmDer(by.spec.algorithm), asn1.AlgorithmIdentifier);
  const tbsCertificate = new asn1.TBSCertificate({
    version: asn1.Version.v3,
    serialNumber: arrayBufferOf(Buffer.from(newSerialHex(), 'hex')),
    signature: algorithm(),
    issuer: AsnConvert.parse(f.issuer, asn1.Name),
    validity: new asn1.Validity({ notBefore: f.notBefore, notAfter: f.notAfter }),
    subject: AsnConvert.parse(f.subject, asn1.Name),
    subjectPublicKeyInfo: AsnConvert.parse(f.spki, asn1.SubjectPublicKeyInfo),
    extensions: new asn1.Extensions(f.extensions.map((e) => AsnConvert.parse(e.rawData, asn1.Extension))),
  });
  const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signature = await by.sign(tbs);
  const certificate = new asn1.Certificate({
    tbsCertificate,
    signatureAlgorithm: algorithm(),
    signatureValue: arrayBufferOf(by.spec.signing.name === 'ECDSA' ? ecdsaSignatureToDer(signature) : signature),
  });
  return new x509.X509Certificate(AsnConvert.serialize(certificate));
}

/** A new self-signed root for `key` (made by the key provider). */
export async function createRoot(key: CaSigningKey, o: { subject: x509.Name; notBefore: Date; notAfter: Date }): Promise<x509.X509Certificate> {
  const subject = new Uint8Array(o.subject.toArrayBuffer());
  return signCaCertificate(key, {
    subject,
    issuer: subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    spki: key.spki,
    extensions: [...rootExtensions(), subjectKeyIdExtension(key.spki)],
  });
}

export interface CaSigner {
  /** The certificate of the CA that signs (its subject becomes the issuer, its SKI the AKI). */
  readonly certificate: x509.X509Certificate;
  readonly key: CaSigningKey;
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
  return signCaCertificate(by.key, {
    subject: subjectNameDer(newRoot),
    issuer: subjectNameDer(by.certificate),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    // The SPKI DER as the new root carries it, byte for byte.
    spki: new Uint8Array(newRoot.publicKey.rawData),
    extensions: [
      ...rootExtensions(),
      new x509.SubjectKeyIdentifierExtension(subjectKeyIdOf(newRoot)),
      new x509.AuthorityKeyIdentifierExtension(subjectKeyIdOf(by.certificate)),
    ],
  });
}

/** Where relying parties fetch what a certificate's issuer publishes (RFC 5280 §4.2.1.13, §4.2.2.1). */
export interface PublicationUrls {
  /** CRL distribution point: the issuer's CRL. */
  readonly crlUrl: string;
  /** AIA caIssuers: the issuer's certificate, DER. */
  readonly caIssuersUrl: string;
}

export interface CaCertificateOptions {
  /** The subject: a Name, or the DER of one (an external CA's CSR subject, byte for byte). */
  readonly subject: x509.Name | Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** BasicConstraints pathLenConstraint; default 0 (the CA signs leaves, never another CA). Null: no limit. */
  readonly pathLength?: number | null;
  /** Written as a critical NameConstraints extension when it constrains anything. */
  readonly nameConstraints?: NameConstraints;
  /** The issuing root's CRL and certificate: CRL distribution point and AIA caIssuers. */
  readonly urls?: PublicationUrls;
}

/**
 * A CA certificate for the public key `spki` (DER SubjectPublicKeyInfo), signed by a root: certmint's
 * own intermediates and the subordinate CAs it signs for other systems (Vault, istiod).
 */
export async function createCaCertificate(by: CaSigner, spki: Uint8Array, o: CaCertificateOptions): Promise<x509.X509Certificate> {
  const pathLength = o.pathLength === undefined ? 0 : o.pathLength;
  return signCaCertificate(by.key, {
    subject: o.subject instanceof Uint8Array ? o.subject : new Uint8Array(o.subject.toArrayBuffer()),
    issuer: subjectNameDer(by.certificate),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    spki,
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength ?? undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      subjectKeyIdExtension(spki),
      new x509.AuthorityKeyIdentifierExtension(subjectKeyIdOf(by.certificate)),
      ...(hasNameConstraints(o.nameConstraints) ? [nameConstraintsExtension(o.nameConstraints)] : []),
      ...(o.urls
        ? [new x509.CRLDistributionPointsExtension([o.urls.crlUrl]), new x509.AuthorityInfoAccessExtension({ caIssuers: o.urls.caIssuersUrl })]
        : []),
    ],
  });
}

/** The certificate of a new intermediate key (made by the key provider), signed by a root. */
export async function createIntermediate(by: CaSigner, key: CaSigningKey, o: CaCertificateOptions): Promise<x509.X509Certificate> {
  return createCaCertificate(by, key.spki, o);
}

export function certificatePemOf(cert: x509.X509Certificate): string {
  return cert.toString('pem').replace(/\r\n/g, '\n') + '\n';
}
