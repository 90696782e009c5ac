// certmint ca sign-subordinate and ca issue-istio-ca: the newest root signs a CA certificate for
// another system (Vault's PKI engine, istiod, any CA that sends a CSR).
// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as x509 from '@peculiar/x509';
import { canonicalKeyHashOfSpki, keyHashOfSpki } from '../core/canonical-key.js';
import { systemClock } from '../core/clock.js';
import type { PublicKeyInfo } from '../core/public-key.js';
import { CA_BACKDATE_MS, createCaCertificate } from './ca-certificates.js';
import { CaError, readCertificateFile } from './ca-file-io.js';
import { loadCa, rootUrlsOf, type CaOptions } from './ca-files.js';
import { CsrParseError, parseCsr } from './csr.js';
import { formatNameConstraint, NameConstraintError, parseNameConstraints, type NameConstraints } from './name-constraints.js';
import { externalRootRefusal, isExternallyRooted } from './external-root.js';
import { newestRoot } from './rotation.js';

export interface SubordinateRequest {
  /** DER SubjectPublicKeyInfo of the subordinate's key. */
  readonly spki: Uint8Array;
  /** The subject's DER Name (a CSR's, byte for byte) or a Name. */
  readonly subject: x509.Name | Uint8Array;
  /** --permit / --exclude in the text form of ca.nameConstraints. */
  readonly permitted: readonly string[];
  readonly excluded: readonly string[];
  /** BasicConstraints pathLenConstraint. */
  readonly pathLength: number;
  readonly validityMs: number;
  /** What needs the root key, for the refusal without it ("sign a subordinate CA"). */
  readonly action: string;
}

export interface SignedSubordinate {
  readonly certificate: x509.X509Certificate;
  /** The root that signed it: what the chain ends at. */
  readonly root: x509.X509Certificate;
  readonly rootGeneration: number;
  /** SHA-256 of the certified SPKI, hex (the ledger's key_hash). */
  readonly keyHash: string;
  readonly constraints: { readonly permitted: string[]; readonly excluded: string[] };
}

/** The constraints an operator wrote; a bad one is a one-line CaError naming it. */
export function subordinateConstraints(permitted: readonly string[], excluded: readonly string[]): NameConstraints {
  try {
    return parseNameConstraints({ permitted, excluded });
  } catch (e) {
    if (e instanceof NameConstraintError) throw new CaError(e.message);
    throw e;
  }
}

/** A CA's CSR from PEM: its signature checked, its subject and key. */
export async function readCaCsr(pem: string, file: string): Promise<{ spki: Uint8Array; key: PublicKeyInfo; subject: Uint8Array; subjectText: string }> {
  let der: Uint8Array;
  try {
    const blocks = x509.PemConverter.decodeWithHeaders(pem).filter((b) => b.type === 'CERTIFICATE REQUEST' || b.type === 'NEW CERTIFICATE REQUEST');
    if (blocks.length !== 1) throw new Error(`${blocks.length} CERTIFICATE REQUEST blocks`);
    der = new Uint8Array(blocks[0]!.rawData);
  } catch (e) {
    throw new CaError(`${file} is not one PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----): ${(e as Error).message}`);
  }
  let parsed;
  try {
    parsed = await parseCsr(der);
  } catch (e) {
    if (e instanceof CsrParseError) throw new CaError(`${file}: ${e.message}`);
    throw e;
  }
  if (!parsed.signatureValid) {
    throw new CaError(`${file}: the CSR's signature does not verify with its own public key (altered or corrupt request); nothing was signed`);
  }
  const request = AsnConvert.parse(der, CertificationRequest);
  const subject = new Uint8Array(AsnConvert.serialize(request.certificationRequestInfo.subject));
  return { spki: parsed.spki, key: parsed.key, subject, subjectText: new x509.Name(subject).toString() };
}

/** Every CA certificate in the CA directory: roots, intermediates, cross certificates of every generation. */
async function caCertificates(dir: string): Promise<x509.X509Certificate[]> {
  // root.pem, root-<n>.pem, root-<n>-cross.pem, intermediate.pem, intermediate-<n>.pem (ca-file-io.ts).
  const names = (await readdir(dir)).filter((n) => /^(root|intermediate)(-\d+)?(-cross)?\.pem$/.test(n));
  return Promise.all(names.map((name) => readCertificateFile(path.join(dir, name), 'a CA certificate')));
}

/** Refuses a key certmint's own CA already certifies: a subordinate must not hold a key of the hierarchy above it. */
async function refuseCertmintKey(o: CaOptions, spki: Uint8Array): Promise<void> {
  const hashOf = (der: Uint8Array) => canonicalKeyHashOfSpki(der) ?? keyHashOfSpki(der);
  const wanted = hashOf(spki);
  for (const cert of await caCertificates(o.dir)) {
    if (hashOf(new Uint8Array(cert.publicKey.rawData)) === wanted) {
      throw new CaError(`the CSR's public key is the key of certmint's CA certificate ${cert.subject}; a subordinate CA needs a key of its own (generate a new one)`);
    }
  }
}

/**
 * The newest root signs a CA certificate for `r.spki`: the key checked against every certmint CA
 * key, the validity ending before the root's, the constraints written as a critical extension, the
 * root's CRL and certificate URLs in it. Throws CaError (one line) and signs nothing when refused,
 * among others when the root key cannot be loaded here (ca.offlineRoot: run it where the key is).
 */
export async function signSubordinate(o: CaOptions, r: SubordinateRequest): Promise<SignedSubordinate> {
  const constraints = subordinateConstraints(r.permitted, r.excluded);
  if (!Number.isInteger(r.pathLength) || r.pathLength < 0 || r.pathLength > 16) {
    throw new CaError(`--path-length ${r.pathLength} is not a whole number from 0 to 16`);
  }
  await refuseCertmintKey(o, r.spki);
  if (await isExternallyRooted(o.dir)) throw externalRootRefusal(o.dir, r.action);
  const ca = await loadCa({ ...o, offlineRoot: true });
  const now = (o.clock ?? systemClock).now().getTime();
  const rootGeneration = Math.max(...ca.roots.map((g) => g.generation));
  const rootCert = ca.roots.find((g) => g.generation === rootGeneration)!;
  const notAfter = new Date(now + r.validityMs);
  if (notAfter.getTime() > rootCert.notAfter.getTime()) {
    throw new CaError(
      `a validity of ${Math.round(r.validityMs / 86_400_000)} days would end at ${notAfter.toISOString()}, after the root CA's notAfter ${rootCert.notAfter.toISOString()}; choose a shorter --validity (a subordinate ends before its root)`,
    );
  }
  const root = await newestRoot(o, ca, r.action);
  const certificate = await createCaCertificate(root.signer, r.spki, {
    subject: r.subject,
    notBefore: new Date(Math.max(now - CA_BACKDATE_MS, root.signer.certificate.notBefore.getTime())),
    notAfter,
    pathLength: r.pathLength,
    nameConstraints: constraints,
    urls: rootUrlsOf(o, root.generation),
  });
  return {
    certificate,
    root: root.signer.certificate,
    rootGeneration: root.generation,
    keyHash: canonicalKeyHashOfSpki(r.spki) ?? keyHashOfSpki(r.spki),
    constraints: { permitted: constraints.permitted.map(formatNameConstraint), excluded: constraints.excluded.map(formatNameConstraint) },
  };
}
