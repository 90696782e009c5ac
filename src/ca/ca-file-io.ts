// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { link, lstat, mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { createSyncedFile, syncDirectory, tempPathFor } from '../core/atomic-file.js';
import type { KeyPassphrase } from './key-passphrase.js';
import { pkcs8DerOf, privateKeyObjectOf } from './key-pem.js';
import { readPrivateFile } from './private-file.js';
import { CaError } from './ca-error.js';

export { CaError };

/**
 * The files of a CA directory, all PEM:
 *   root.key.pem          root private key, PKCS#8, mode 0600; signs the intermediate and its CRL
 *   root.pem              root certificate: what clients trust (served at /roots.pem)
 *   intermediate.key.pem  intermediate private key, PKCS#8, mode 0600; signs leaves and their CRL
 *   intermediate.pem      intermediate certificate: the chain that follows a leaf
 * Later generations add intermediate-<n>.* (intermediate-generations.ts) and root-<n>.*,
 * root-<n>-cross.pem (root-generations.ts).
 * There is no chain.pem or roots.pem: with one intermediate and one root they would repeat
 * intermediate.pem and root.pem, and a copy is one more file that can disagree with its source.
 * The directory is created 0700.
 */
export interface CaFilePaths {
  readonly rootKey: string;
  readonly rootCert: string;
  readonly intermediateKey: string;
  readonly intermediateCert: string;
}

export function caFilePaths(dir: string): CaFilePaths {
  return {
    rootKey: join(dir, 'root.key.pem'),
    rootCert: join(dir, 'root.pem'),
    intermediateKey: join(dir, 'intermediate.key.pem'),
    intermediateCert: join(dir, 'intermediate.pem'),
  };
}

export function allCaFiles(paths: CaFilePaths): string[] {
  return [paths.rootKey, paths.rootCert, paths.intermediateKey, paths.intermediateCert];
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw new CaError(`cannot check CA file ${path}: ${errorText(e)}`);
  }
}

export interface NewCaFile {
  readonly path: string;
  readonly contents: string;
  readonly mode: number;
}

/**
 * Writes a new CA's files without ever overwriting one and without leaving a half-written file:
 * each is written and fsynced under a temporary name (core/atomic-file's createSyncedFile: O_EXCL,
 * created with its final mode, so a key is never readable by others, not even for a moment), then
 * hard-linked to its name (not renamed: the one write that must not replace), which fails if
 * the name exists (two instances starting on one volume cannot replace each other's keys).
 * A crash between the links can leave some of the files; loadOrInitCa then refuses to start and
 * names the missing one rather than creating a second CA.
 */
export async function writeNewCaFiles(dir: string, files: readonly NewCaFile[]): Promise<void> {
  await createCaDirectory(dir);
  const staged: { temp: string; path: string }[] = [];
  const linked: string[] = [];
  try {
    for (const file of files) {
      const temp = tempPathFor(file.path);
      staged.push({ temp, path: file.path });
      await createSyncedFile(temp, file.contents, file.mode);
    }
    for (const { temp, path } of staged) {
      await linkNoClobber(temp, path);
      linked.push(path);
    }
    await syncDirectory(dir);
  } catch (e) {
    // Only files this call created are removed: a CA that was there before stays untouched.
    await Promise.all(linked.map((path) => unlink(path).catch(() => undefined)));
    if (e instanceof CaError) throw e;
    throw new CaError(`cannot write the CA files in ${dir}: ${errorText(e)}`);
  } finally {
    await Promise.all(staged.map(({ temp }) => unlink(temp).catch(() => undefined)));
  }
}

/** Creates `dir` 0700 (its parents with default modes). A directory that exists is left as it is. */
async function createCaDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir, { mode: 0o700 });
  } catch (e) {
    const isDirectory = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (errorCode(e) !== 'EEXIST' || !isDirectory) {
      throw new CaError(`cannot create the CA directory ${dir}: ${errorText(e)}`);
    }
  }
}

async function linkNoClobber(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (e) {
    const code = errorCode(e);
    if (code === 'EEXIST') {
      throw new CaError(`${path} already exists; certmint never overwrites a CA file (move it away first)`);
    }
    // Some network and FUSE file systems have no hard links: fall back to a checked rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
    if (await fileExists(path)) {
      throw new CaError(`${path} already exists; certmint never overwrites a CA file (move it away first)`);
    }
    await rename(temp, path);
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') throw new CaError(`CA file ${path} (${what}) is missing`);
    throw new CaError(`CA file ${path} (${what}) cannot be read: ${errorText(e)}`);
  }
}

function singlePemBlock(text: string, path: string, what: string): x509.PemStruct {
  let blocks: x509.PemStruct[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(text);
  } catch (e) {
    throw new CaError(`CA file ${path} should hold ${what} in PEM but cannot be decoded: ${errorText(e)}`);
  }
  const first = blocks[0];
  if (first === undefined) throw new CaError(`CA file ${path} should hold ${what} but has no PEM block in it`);
  if (blocks.length > 1) {
    throw new CaError(`CA file ${path} should hold one PEM block (${what}) but has ${blocks.length}`);
  }
  return first;
}

/**
 * Reads a CA private key file (mode 0600 or stricter, else refused) and returns its PKCS#8 DER,
 * which the caller zeroes once it is imported. "BEGIN ENCRYPTED PRIVATE KEY" is decrypted with
 * `passphrase` (and refused without one, naming the setting).
 */
export async function readPrivateKeyFile(path: string, what: string, passphrase?: KeyPassphrase): Promise<Uint8Array> {
  const bytes = await readPrivateFile(path, `CA file ${path} (${what})`);
  if (bytes === undefined) throw new CaError(`CA file ${path} (${what}) is missing`);
  const text = bytes.toString('utf8');
  bytes.fill(0);
  const block = singlePemBlock(text, path, what);
  const fix = `convert it with: openssl pkcs8 -topk8 -nocrypt -in ${path} -out ${path}.new`;
  switch (block.type) {
    case 'PRIVATE KEY':
      return new Uint8Array(block.rawData);
    case 'ENCRYPTED PRIVATE KEY':
      return pkcs8DerOf(privateKeyObjectOf(text, block.type, `CA file ${path} (${what})`, passphrase));
    case 'EC PRIVATE KEY':
    case 'RSA PRIVATE KEY':
      throw new CaError(`CA file ${path} (${what}) is a ${block.type} (legacy format); certmint reads PKCS#8: ${fix}`);
    default:
      throw new CaError(`CA file ${path} should hold ${what} ("BEGIN PRIVATE KEY") but holds "BEGIN ${block.type}"`);
  }
}

export async function readCertificateFile(path: string, what: string): Promise<x509.X509Certificate> {
  const block = singlePemBlock(await readText(path, what), path, what);
  if (block.type !== 'CERTIFICATE') {
    throw new CaError(`CA file ${path} should hold ${what} ("BEGIN CERTIFICATE") but holds "BEGIN ${block.type}"`);
  }
  try {
    return new x509.X509Certificate(block.rawData);
  } catch (e) {
    throw new CaError(`CA file ${path} should hold ${what} but is not a valid X.509 certificate: ${errorText(e)}`);
  }
}

export function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
