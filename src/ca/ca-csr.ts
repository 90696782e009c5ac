// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import * as x509 from '@peculiar/x509';
import { allCaFiles, CaError, caFilePaths, errorText, fileExists, writeNewCaFiles } from './ca-file-io.js';
import { CA_DEFAULTS, keyProviderOf, type CaOptions } from './ca-files.js';
import { subjectKeyIdExtension } from './ca-certificates.js';
import type { CaSigningKey } from './ca-key.js';
import { derOid, derSequence, derTlv, ecdsaSignatureToDer, signatureAlgorithmDer } from './crl/der.js';
import { isExternallyRooted, pendingIntermediateFiles } from './external-root.js';

/** PKCS#9 extensionRequest (RFC 2985 §5.4.2): the extensions the request asks the CA to put in. */
const OID_EXTENSION_REQUEST = derOid('1.2.840.113549.1.9.14');
const VERSION_1 = Buffer.from([0x02, 0x01, 0x00]);

/**
 * RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
 * signature BIT STRING }, signed through the CaSigningKey so that the pending key may live on a
 * token as well as in a file.
 */
async function signedCertificationRequest(key: CaSigningKey, subject: x509.Name, extensions: readonly x509.Extension[]): Promise<x509.Pkcs10CertificateRequest> {
  // attributes [0] IMPLICIT SET OF Attribute, one Attribute: extensionRequest, its one value Extensions.
  const extensionRequest = derSequence(OID_EXTENSION_REQUEST, derTlv(0x31, derSequence(...extensions.map((e) => new Uint8Array(e.rawData)))));
  const info = derSequence(VERSION_1, new Uint8Array(subject.toArrayBuffer()), key.spki, derTlv(0xa0, extensionRequest));
  const signature = await key.sign(info);
  const value = key.spec.signing.name === 'ECDSA' ? ecdsaSignatureToDer(signature) : signature;
  const der = derSequence(info, signatureAlgorithmDer(key.spec.algorithm), derTlv(0x03, Buffer.from([0]), value));
  return new x509.Pkcs10CertificateRequest(new Uint8Array(der));
}

export interface IntermediateCsr {
  /** PKCS#10 PEM, for the external CA to sign. */
  readonly csrPem: string;
  /** Where its private key waits for `certmint ca import`: pending-intermediate.key.pem, or the token key (its pkcs11: description). */
  readonly keyFile: string;
  /** True when an earlier `ca csr` made the key and this one only gives its request again. */
  readonly reused: boolean;
}

/**
 * certmint ca csr: a new intermediate key of the configured algorithm (encrypted when a passphrase
 * is configured), kept in the CA directory as the pending key, and a PKCS#10 request for it that
 * asks for what an intermediate needs (CA, pathLen 0, keyCertSign and cRLSign). Run again before
 * the import, it gives the same request: the key that waits is never replaced.
 */
export async function createIntermediateCsr(o: CaOptions): Promise<IntermediateCsr> {
  const pending = pendingIntermediateFiles(o.dir);
  const existing = (await Promise.all(allCaFiles(caFilePaths(o.dir)).map(fileExists))).some(Boolean);
  if (existing || (await isExternallyRooted(o.dir))) {
    throw new CaError(
      `${o.dir} holds a CA already; certmint ca csr prepares a new one under an external root (importing a second intermediate into an existing CA is not supported yet)`,
    );
  }
  if (await fileExists(pending.key)) {
    let csrPem: string;
    try {
      csrPem = await readFile(pending.csr, 'utf8');
    } catch (e) {
      throw new CaError(`the pending key ${pending.key} has no request beside it (${errorText(e)}); remove the key to start over`);
    }
    return { csrPem, keyFile: pending.key, reused: true };
  }

  const created = await keyProviderOf(o).create('pending-intermediate', 1, o.keyAlgorithm ?? CA_DEFAULTS.keyAlgorithm);
  const csr = await signedCertificationRequest(created.key, new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA`] }]), [
    // What certmint's own intermediates carry (ca-certificates.ts); the signer may or may not copy them.
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    subjectKeyIdExtension(created.key.spki),
  ]);
  const csrPem = csr.toString('pem').replace(/\r\n/g, '\n') + '\n';
  await writeNewCaFiles(o.dir, [
    ...created.files,
    { path: pending.csr, contents: csrPem, mode: 0o644 },
  ]);
  // A key a token holds came with no file to write.
  return { csrPem, keyFile: created.files.length === 0 ? created.key.description : pending.key, reused: false };
}
