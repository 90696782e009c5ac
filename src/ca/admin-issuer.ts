// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { certificatePemOf, signCaCertificate, subjectKeyIdExtension } from './ca-certificates.js';
import { CaError, fileExists, readCertificateFile, readPrivateKeyFile, writeNewCaFiles } from './ca-file-io.js';
import { caKeySpec, generateCaKeyPair, importCaPrivateKey } from './ca-keys.js';
import { fileSigningKey } from './file-key-provider.js';
import { subjectKeyIdOf, subjectNameDer } from './issuer-fields.js';
import type { KeyPassphrase } from './key-passphrase.js';
import { privateKeyPemOf } from './key-pem.js';
import type { CaSigningKey } from './ca-key.js';

/**
 * The admin issuer: a self-signed CA of its own that signs admin client certificates and nothing
 * else (issue 25). It is not the ACME hierarchy's root or intermediate, so no certificate obtained
 * over ACME chains to it, and it appears in no trust bundle, chain or CRL served to ACME clients;
 * the admin listener trusts it alone for client certificates (admin.clientCertificates).
 *
 *   <dataDir>/ca/admin/admin-ca.key.pem  PKCS#8, mode 0600 (encrypted with ca.keyPassphraseFile's passphrase when set)
 *   <dataDir>/ca/admin/admin-ca.pem      its certificate, what the admin listener trusts
 *
 * A software key always, whatever ca.keyProvider says: it signs a handful of certificates from the
 * CLI, and the server never loads it (it reads only the certificate). Revocation is the ledger's
 * (admin_certificates, checked on every request), so the issuer signs no CRL.
 */
export const ADMIN_ISSUER_LIFETIME_MS = 10 * 365 * 86_400_000;
/** Backdated a little so a client whose clock lags is not refused at once. */
const BACKDATE_MS = 5 * 60_000;

export function adminIssuerFiles(dataDir: string): { readonly dir: string; readonly key: string; readonly cert: string } {
  const dir = join(dataDir, 'ca', 'admin');
  return { dir, key: join(dir, 'admin-ca.key.pem'), cert: join(dir, 'admin-ca.pem') };
}

/** The issuer's certificate, for the admin listener's `ca`; undefined before `certmint admin cert create` made it. */
export async function readAdminIssuerCertificate(dataDir: string): Promise<x509.X509Certificate | undefined> {
  const files = adminIssuerFiles(dataDir);
  if (!(await fileExists(files.cert))) return undefined;
  return readCertificateFile(files.cert, 'the admin issuer certificate');
}

export interface AdminClientCertificateRequest {
  /** Becomes the subject's CN; the ledger, not the certificate, says what role it has. */
  readonly name: string;
  /** DER SubjectPublicKeyInfo of the holder's key. */
  readonly spki: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface AdminIssuer {
  readonly certificate: x509.X509Certificate;
  readonly certificatePem: string;
  /** A client certificate: not a CA, digitalSignature, EKU clientAuth only (never serverAuth). */
  issue(req: AdminClientCertificateRequest): Promise<x509.X509Certificate>;
}

export interface AdminIssuerOptions {
  readonly dataDir: string;
  /** ca.name: the issuer is "<name> Admin Client CA". */
  readonly caName: string;
  readonly keyPassphrase?: KeyPassphrase;
  readonly crypto: Crypto;
  readonly now: Date;
}

function adminIssuer(certificate: x509.X509Certificate, key: CaSigningKey): AdminIssuer {
  return {
    certificate,
    certificatePem: certificatePemOf(certificate),
    async issue(req) {
      if (req.notAfter > certificate.notAfter) {
        throw new CaError(`an admin certificate cannot outlive the admin issuer (it expires ${certificate.notAfter.toISOString()})`);
      }
      return signCaCertificate(key, {
        subject: new Uint8Array(new x509.Name([{ CN: [req.name] }]).toArrayBuffer()),
        issuer: subjectNameDer(certificate),
        notBefore: new Date(req.notBefore.getTime() - BACKDATE_MS),
        notAfter: req.notAfter,
        spki: req.spki,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          subjectKeyIdExtension(req.spki),
          new x509.AuthorityKeyIdentifierExtension(subjectKeyIdOf(certificate)),
        ],
      });
    },
  };
}

/** The admin issuer of the data dir, created (key and certificate, never overwriting either) when it has none. */
export async function openAdminIssuer(o: AdminIssuerOptions): Promise<{ issuer: AdminIssuer; created: boolean }> {
  const files = adminIssuerFiles(o.dataDir);
  const spec = caKeySpec('ecdsa-p256');
  const [hasCert, hasKey] = await Promise.all([fileExists(files.cert), fileExists(files.key)]);
  if (hasCert || hasKey) {
    if (!hasCert || !hasKey) throw new CaError(`the admin issuer in ${files.dir} is incomplete: ${hasCert ? files.key : files.cert} is missing`);
    const certificate = await readCertificateFile(files.cert, 'the admin issuer certificate');
    const der = await readPrivateKeyFile(files.key, 'the admin issuer private key', o.keyPassphrase);
    try {
      const key = await importCaPrivateKey(der, certificate, spec, files, o.crypto);
      return { issuer: adminIssuer(certificate, fileSigningKey(key, spec, new Uint8Array(certificate.publicKey.rawData), files.key, o.crypto)), created: false };
    } finally {
      der.fill(0);
    }
  }
  const keys = await generateCaKeyPair(spec, o.crypto);
  const spki = new Uint8Array(await o.crypto.subtle.exportKey('spki', keys.publicKey));
  const pkcs8 = new Uint8Array(await o.crypto.subtle.exportKey('pkcs8', keys.privateKey));
  let keyPem: string;
  try {
    keyPem = privateKeyPemOf(pkcs8, o.keyPassphrase);
  } finally {
    pkcs8.fill(0);
  }
  const key = fileSigningKey(keys.privateKey, spec, spki, files.key, o.crypto);
  const subject = new Uint8Array(new x509.Name([{ CN: [`${o.caName} Admin Client CA`] }]).toArrayBuffer());
  const certificate = await signCaCertificate(key, {
    subject,
    issuer: subject,
    notBefore: new Date(o.now.getTime() - BACKDATE_MS),
    notAfter: new Date(o.now.getTime() + ADMIN_ISSUER_LIFETIME_MS),
    spki,
    extensions: [
      // Path length 0 and keyCertSign only: it signs end-entity client certificates, no CA and no CRL.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      subjectKeyIdExtension(spki),
    ],
  });
  await writeNewCaFiles(files.dir, [
    { path: files.key, contents: keyPem, mode: 0o600 },
    { path: files.cert, contents: certificatePemOf(certificate), mode: 0o644 },
  ]);
  return { issuer: adminIssuer(certificate, key), created: true };
}
