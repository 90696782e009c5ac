// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { X509Certificate as NodeCertificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { CaError, errorCode, errorText, fileExists } from './ca-file-io.js';

/*
 * A CA under an external root (certmint ca import): a corporate or Vault root signed certmint's
 * intermediate, and certmint never holds that root's key. Its CA directory has
 *   root.pem               the external root (served at /roots.pem), no root.key.pem beside it
 *   intermediate.pem       the imported intermediate, with intermediate.key.pem
 *   external-chain.pem     the CAs between the intermediate and the root, nearest first (may hold
 *                          none); its presence is what marks the CA as externally rooted, so a
 *                          self-made CA that lost root.key.pem is still reported as broken
 * and, between `certmint ca csr` and `certmint ca import`:
 *   pending-intermediate.key.pem / pending-intermediate.csr.pem
 */

export function externalChainFile(dir: string): string {
  return join(dir, 'external-chain.pem');
}

export function pendingIntermediateFiles(dir: string): { readonly key: string; readonly csr: string } {
  return { key: join(dir, 'pending-intermediate.key.pem'), csr: join(dir, 'pending-intermediate.csr.pem') };
}

export function isExternallyRooted(dir: string): Promise<boolean> {
  return fileExists(externalChainFile(dir));
}

/** Why something that needs the root key cannot be done here, and what to do instead. */
export function externalRootRefusal(dir: string, action: string): CaError {
  return new CaError(
    `cannot ${action}: the CA in ${dir} runs under an external root (certmint ca import) whose private key certmint does not hold`,
  );
}

const BEGIN_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const END_CERTIFICATE = '-----END CERTIFICATE-----';

/**
 * The "-----BEGIN CERTIFICATE-----" … "-----END CERTIFICATE-----" blocks of a PEM text, in order.
 * indexOf, not /BEGIN[\s\S]+?END/g: without an END, that expression scans to the end of the text
 * from every BEGIN, quadratic in a file of many BEGIN lines.
 */
function certificateBlocks(text: string): string[] {
  const blocks: string[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN_CERTIFICATE, from);
    if (begin === -1) return blocks;
    // At least one character between the markers, as before.
    const end = text.indexOf(END_CERTIFICATE, begin + BEGIN_CERTIFICATE.length + 1);
    if (end === -1) return blocks;
    from = end + END_CERTIFICATE.length;
    blocks.push(text.slice(begin, from));
  }
}

/** Every certificate in a PEM text, in order; `file` names it in errors. */
export function certificatesInPem(text: string, file: string): x509.X509Certificate[] {
  return certificateBlocks(text).map((pem, i) => {
    try {
      return new x509.X509Certificate(pem);
    } catch (e) {
      throw new CaError(`certificate ${i + 1} in ${file} is not a valid X.509 certificate: ${errorText(e)}`);
    }
  });
}

/** The CAs between the intermediate and the external root, nearest first. */
export async function readExternalChain(dir: string): Promise<x509.X509Certificate[]> {
  const file = externalChainFile(dir);
  try {
    return certificatesInPem(await readFile(file, 'utf8'), file);
  } catch (e) {
    if (e instanceof CaError) throw e;
    throw new CaError(`CA file ${file} cannot be read: ${errorCode(e) ?? errorText(e)}`);
  }
}

/** The contents of external-chain.pem for `issuers` (nearest first). */
export function externalChainPem(issuers: readonly x509.X509Certificate[]): string {
  const header = '# certmint: the CAs between intermediate.pem and root.pem (an external root, its key held elsewhere), nearest first\n';
  return header + issuers.map((c) => c.toString('pem').replace(/\r\n/g, '\n') + '\n').join('');
}

/** `cert` was signed by `issuer`'s key and names it as issuer (node:crypto: any key type an external CA may use). */
export function signedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): boolean {
  const child = new NodeCertificate(Buffer.from(cert.rawData));
  const parent = new NodeCertificate(Buffer.from(issuer.rawData));
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/** A certificate that may sign certificates and CRLs (RFC 5280 §4.2.1.3, §4.2.1.9); `what` names it. */
export function checkCaCertificate(cert: x509.X509Certificate, what: string, now: Date): void {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new CaError(`${what} (${cert.subject}) is not a CA certificate: it has no basicConstraints cA=TRUE`);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const needed = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  if (ku && (ku.usages & needed) !== needed) {
    throw new CaError(`${what} (${cert.subject}) may not sign certificates and CRLs: its keyUsage lacks keyCertSign or cRLSign`);
  }
  if (cert.notBefore.getTime() > now.getTime() || cert.notAfter.getTime() <= now.getTime()) {
    throw new CaError(`${what} (${cert.subject}) is not valid now: valid from ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}`);
  }
}

/**
 * Checks intermediate → issuers… → root: each signed by the next, each issuer a CA, the root
 * self-signed. `files` names where they came from. @throws CaError saying which link breaks.
 */
export function checkExternalPath(
  intermediate: x509.X509Certificate,
  issuers: readonly x509.X509Certificate[],
  root: x509.X509Certificate,
  files: string,
): void {
  const path = [intermediate, ...issuers, root];
  for (let i = 0; i + 1 < path.length; i++) {
    if (!signedBy(path[i]!, path[i + 1]!)) {
      throw new CaError(`in ${files}: "${path[i]!.subject}" was not signed by "${path[i + 1]!.subject}"`);
    }
  }
  if (!signedBy(root, root)) throw new CaError(`in ${files}: the root "${root.subject}" is not self-signed`);
}

/**
 * Orders `pool` into the path from `cert` up to a self-signed root: the issuers between, nearest
 * first, and the root. @throws CaError when the pool does not reach a self-signed root.
 */
export function pathToRoot(
  cert: x509.X509Certificate,
  pool: readonly x509.X509Certificate[],
  files: string,
): { issuers: x509.X509Certificate[]; root: x509.X509Certificate } {
  const issuers: x509.X509Certificate[] = [];
  let current = cert;
  for (let depth = 0; depth <= pool.length; depth++) {
    const issuer = pool.find((c) => c !== current && signedBy(current, c));
    if (!issuer) break;
    if (signedBy(issuer, issuer)) return { issuers, root: issuer };
    if (issuers.includes(issuer)) break;
    issuers.push(issuer);
    current = issuer;
  }
  throw new CaError(
    `the chain in ${files} does not reach a self-signed root: no certificate in it signed "${current.subject}" ` +
      `(its issuer is "${current.issuer}"); give the issuers up to and including the root with --chain`,
  );
}
