// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import * as x509 from '@peculiar/x509';
import { allCaFiles, CaError, caFilePaths, fileExists, readPrivateKeyFile, writeNewCaFiles, type NewCaFile } from './ca-file-io.js';
import type { CaSigningKey } from './ca-key.js';
import { keyProviderOf, loadCa, type CaOptions } from './ca-files.js';
import { caKeySpecOf, keyLocation, proveKeyMatches } from './ca-keys.js';
import { systemClock } from '../core/clock.js';
import {
  certificatesInPem,
  checkCaCertificate,
  externalChainFile,
  externalChainPem,
  pathToRoot,
  pendingIntermediateFiles,
} from './external-root.js';
import { isPrivateKeyPemType, pkcs8DerOf, privateKeyObjectOf, privateKeyPemOf } from './key-pem.js';
import type { X509CertificateAuthority } from './x509-authority.js';

/** What `certmint ca import` was given: file contents, and the file names for messages. */
export interface CaImportInput {
  readonly cert: { readonly file: string; readonly pem: string };
  /** Absent: the pending key of `certmint ca csr`. */
  readonly key?: { readonly file: string; readonly pem: string };
  /** The issuers up to and including the self-signed root (they may also follow the certificate in its file). */
  readonly chain?: { readonly file: string; readonly pem: string };
}

export interface CaImportResult {
  readonly ca: X509CertificateAuthority;
  readonly usedPendingKey: boolean;
  /** The external root, now in root.pem and /roots.pem. */
  readonly root: x509.X509Certificate;
  /** The CAs between the intermediate and the root, nearest first. */
  readonly issuers: readonly x509.X509Certificate[];
}

/**
 * certmint ca import: makes `o.dir` a CA whose intermediate an external root (corporate, Vault)
 * issued. Everything is checked before any file is written: the data dir holds no CA, the key
 * belongs to the certificate, the certificate is a CA valid now, and the chain leads from it to a
 * self-signed root. The key is written as PKCS#8 (encrypted when a passphrase is configured)
 * whatever form it came in (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY").
 */
export async function importCa(o: CaOptions, input: CaImportInput): Promise<CaImportResult> {
  const paths = caFilePaths(o.dir);
  for (const path of [...allCaFiles(paths), externalChainFile(o.dir)]) {
    if (await fileExists(path)) throw new CaError(`cannot import into ${o.dir}: it holds a CA already (${path}); import into a data dir without one`);
  }
  if (input.key && keyProviderOf(o).keyIsFile?.('intermediate') === false) {
    // A key given as a file would be written as intermediate.key.pem, which a token provider never reads.
    throw new CaError(
      `ca.keyProvider is pkcs11: the intermediate key belongs on the token, not in ${paths.intermediateKey}. ` +
        `Import ${input.key.file} onto the token under ca.pkcs11.intermediateKey (e.g. pkcs11-tool --write-object ${input.key.file} --type privkey --label <label>), ` +
        'then run certmint ca import without --key',
    );
  }
  const now = (o.clock ?? systemClock).now();
  const [certificate, ...following] = certificatesInPem(input.cert.pem, input.cert.file);
  if (!certificate) throw new CaError(`${input.cert.file} holds no "BEGIN CERTIFICATE" block`);
  const pending = pendingIntermediateFiles(o.dir);
  const held = await keyHeldByProvider(o, input, certificate, pending.key);
  const key = held ? undefined : input.key ? keyOfPem(input.key.file, input.key.pem, o) : await pendingKey(pending.key, o);
  const keyFile = input.key?.file ?? pending.key;

  if (key && !createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new CaError(`the private key in ${keyFile} does not belong to the certificate in ${input.cert.file}`);
  }
  // A key certmint can sign with: ECDSA P-256/P-384, RSA 2048/3072/4096.
  caKeySpecOf(certificate, input.cert.file);
  checkCaCertificate(certificate, `the certificate in ${input.cert.file}`, now);
  const pool = [...following, ...(input.chain ? certificatesInPem(input.chain.pem, input.chain.file) : [])];
  const files = [input.cert.file, input.chain?.file].filter(Boolean).join(' and ');
  const { issuers, root } = pathToRoot(certificate, pool, files);
  for (const issuer of issuers) checkCaCertificate(issuer, `the issuing CA in ${files}`, now);
  checkCaCertificate(root, `the root in ${files}`, now);

  const keyFiles: NewCaFile[] = [];
  if (key) {
    const pkcs8 = pkcs8DerOf(key);
    try {
      keyFiles.push({ path: paths.intermediateKey, contents: privateKeyPemOf(pkcs8, o.keyPassphrase), mode: 0o600 });
    } finally {
      pkcs8.fill(0);
    }
  }
  const pem = (c: x509.X509Certificate): string => c.toString('pem').replace(/\r\n/g, '\n') + '\n';
  await writeNewCaFiles(o.dir, [
    ...keyFiles,
    { path: paths.intermediateCert, contents: pem(certificate), mode: 0o644 },
    { path: paths.rootCert, contents: pem(root), mode: 0o644 },
    { path: externalChainFile(o.dir), contents: externalChainPem(issuers), mode: 0o644 },
  ]);
  if (!input.key) await Promise.all([key ? unlink(pending.key) : undefined, unlink(pending.csr).catch(() => undefined)]);
  return { ca: await loadCa(o), usedPendingKey: !input.key, root, issuers };
}

/**
 * Without --key and without a pending key file, the key its provider keeps elsewhere (a token,
 * where certmint ca csr made it): proven to be the certificate's by a signature. Undefined when the
 * key is a file (given, or pending), as with the file provider always.
 */
async function keyHeldByProvider(
  o: CaOptions,
  input: CaImportInput,
  certificate: x509.X509Certificate,
  pendingKeyFile: string,
): Promise<CaSigningKey | undefined> {
  const provider = keyProviderOf(o);
  if (input.key || provider.keyIsFile?.('intermediate') !== false || (await fileExists(pendingKeyFile))) return undefined;
  caKeySpecOf(certificate, input.cert.file);
  const held = await provider.load('intermediate', 1, certificate);
  await proveKeyMatches(held, certificate, `${keyLocation(held)} does not belong to the certificate in ${input.cert.file}`);
  return held;
}

function keyOfPem(file: string, pem: string, o: CaOptions): KeyObject {
  const type = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (type === undefined || !isPrivateKeyPemType(type)) {
    throw new CaError(
      `${file} should hold a private key in PEM ("BEGIN PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY")` +
        (type ? ` but holds "BEGIN ${type}"` : ''),
    );
  }
  return privateKeyObjectOf(pem, type, file, o.keyPassphrase);
}

async function pendingKey(file: string, o: CaOptions): Promise<KeyObject> {
  if (!(await fileExists(file))) {
    throw new CaError(`no --key given and no pending key in ${file}: give the intermediate's key with --key, or start with certmint ca csr`);
  }
  const der = await readPrivateKeyFile(file, 'the pending intermediate private key (certmint ca csr)', o.keyPassphrase);
  try {
    return createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}
