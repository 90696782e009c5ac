// certmint ca rotate-intermediate and rotate-root: new CA generations beside the ones that stay.
// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { systemClock } from '../core/clock.js';
import {
  CA_BACKDATE_MS,
  certificatePemOf,
  createCrossCertificate,
  createIntermediate,
  createRoot,
  type CaSigner,
} from './ca-certificates.js';
import type { CaSigningKey } from './ca-key.js';
import { CaError, readCertificateFile, writeNewCaFiles, type NewCaFile } from './ca-file-io.js';
import { caKeySpecOf } from './ca-keys.js';
import { intermediateFilePaths, intermediateGenerations, writeActiveGeneration } from './intermediate-generations.js';
import { externalRootRefusal, isExternallyRooted } from './external-root.js';
import { rootFilePaths } from './root-generations.js';
import type { CaKeyAlgorithm } from './types.js';
import { X509CertificateAuthority } from './x509-authority.js';
import { CA_DEFAULTS, keyProviderOf, loadCa, loadKey, rootUrlsOf, type CaOptions } from './ca-files.js';

/**
 * The newest root (the one that signs new intermediates) with its private key, for one signature:
 * the one time a CA kept with ca.offlineRoot needs it. `action` names what needs it in the error.
 */
export async function newestRoot(o: CaOptions, ca: X509CertificateAuthority, action: string): Promise<{ generation: number; signer: CaSigner }> {
  const generation = Math.max(...ca.roots.map((r) => r.generation));
  const files = rootFilePaths(o.dir, generation);
  const certificate = await readCertificateFile(files.cert, 'the root CA certificate');
  caKeySpecOf(certificate, files.cert);
  const provider = keyProviderOf(o);
  let key: CaSigningKey;
  try {
    key = await loadKey(provider, 'root', generation, certificate, files.cert);
  } catch (e) {
    if (!(e instanceof CaError) || e.message.includes('does not match')) throw e;
    const where = (provider.keyIsFile?.('root') ?? true) ? `the file ${files.key}` : 'the root key object on the token (ca.pkcs11.rootKey)';
    throw new CaError(
      `cannot ${action}: it needs the private key of ${generation === 1 ? 'the root CA' : `root CA ${generation}`}, which cannot be loaded here (${e.message}). ` +
        `Bring back ${where} for this command (ca.offlineRoot keeps it off this machine between uses), then move it away again`,
    );
  }
  return { generation, signer: { certificate, key } };
}

interface NewIntermediate {
  readonly generation: number;
  readonly files: readonly NewCaFile[];
}

/** The next intermediate generation signed by root `rootGeneration`, with a new key of `algorithm`, as files to write. */
async function nextIntermediate(o: CaOptions, algorithm: CaKeyAlgorithm, root: CaSigner, rootGeneration: number, now: number): Promise<NewIntermediate> {
  const generation = Math.max(...(await intermediateGenerations(o.dir))) + 1;
  const notAfter = new Date(Math.min(now + (o.intermediateLifetimeMs ?? CA_DEFAULTS.intermediateLifetimeMs), root.certificate.notAfter.getTime()));
  const created = await keyProviderOf(o).create('intermediate', generation, algorithm);
  const certificate = await createIntermediate(root, created.key, {
    subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA G${generation}`] }]),
    notBefore: new Date(now - CA_BACKDATE_MS),
    notAfter,
    urls: rootUrlsOf(o, rootGeneration),
    ...(o.nameConstraints ? { nameConstraints: o.nameConstraints } : {}),
  });
  const paths = intermediateFilePaths(o.dir, generation);
  return {
    generation,
    files: [...created.files, { path: paths.cert, contents: certificatePemOf(certificate), mode: 0o644 }],
  };
}

/**
 * A new intermediate under the newest root (certmint ca rotate-intermediate): written as
 * intermediate-<n>.key.pem / intermediate-<n>.pem (never over an existing file), then made the
 * active generation. The older generations stay: they keep signing the CRLs of their leaves.
 * A running server goes on issuing from the generation it loaded until it is restarted.
 */
export async function rotateIntermediate(o: CaOptions): Promise<{ ca: X509CertificateAuthority; generation: number }> {
  // Everything there must load before anything is added to it; the root key is loaded below, once.
  const current = await loadCa({ ...o, offlineRoot: true });
  if (await isExternallyRooted(o.dir)) {
    const e = externalRootRefusal(o.dir, 'rotate the intermediate');
    e.message +=
      '. The external CA has to sign a new intermediate, and certmint cannot import a second generation yet: ' +
      'set up a new data dir with certmint ca csr and certmint ca import';
    throw e;
  }
  const root = await newestRoot(o, current, 'rotate the intermediate');
  const now = (o.clock ?? systemClock).now().getTime();
  if (root.signer.certificate.notAfter.getTime() <= now) {
    throw new CaError(`the root CA in ${rootFilePaths(o.dir, root.generation).cert} has expired; it cannot sign a new intermediate`);
  }
  // The new intermediate keeps the key type of the one it replaces.
  const next = await nextIntermediate(o, current.keyAlgorithm, root.signer, root.generation, now);
  await writeNewCaFiles(o.dir, next.files);
  await writeActiveGeneration(o.dir, next.generation);
  return { ca: await loadCa(o), generation: next.generation };
}

/**
 * A new root (certmint ca rotate-root): root-<n>.key.pem / root-<n>.pem, of the configured key
 * algorithm and root lifetime; its cross certificate root-<n>-cross.pem signed by the newest root
 * there was; and the next intermediate generation, signed by the new root and made active. All
 * the new files are written in one go (none if one fails), never over an existing file. The old
 * roots, intermediates and their files stay as they are.
 */
export async function rotateRoot(o: CaOptions): Promise<{ ca: X509CertificateAuthority; rootGeneration: number; generation: number }> {
  const current = await loadCa({ ...o, offlineRoot: true });
  if (await isExternallyRooted(o.dir)) throw externalRootRefusal(o.dir, 'rotate the root');
  const old = await newestRoot(o, current, 'rotate the root');
  const now = (o.clock ?? systemClock).now().getTime();
  const oldCert = old.signer.certificate;
  if (oldCert.notAfter.getTime() <= now) {
    throw new CaError(`the root CA in ${rootFilePaths(o.dir, old.generation).cert} has expired; it cannot cross-sign a new root (create a new CA instead)`);
  }
  const rootGeneration = old.generation + 1;
  const algorithm = o.keyAlgorithm ?? CA_DEFAULTS.keyAlgorithm;
  const notBefore = new Date(now - CA_BACKDATE_MS);
  const rootKey = await keyProviderOf(o).create('root', rootGeneration, algorithm);
  const root = await createRoot(rootKey.key, {
    subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Root CA R${rootGeneration}`] }]),
    notBefore,
    notAfter: new Date(now + (o.rootLifetimeMs ?? CA_DEFAULTS.rootLifetimeMs)),
  });
  const cross = await createCrossCertificate(old.signer, root, {
    notBefore: new Date(Math.max(notBefore.getTime(), oldCert.notBefore.getTime())),
    notAfter: new Date(Math.min(root.notAfter.getTime(), oldCert.notAfter.getTime())),
  });
  // A new root is where the key type may change: root and intermediate take the configured one.
  const next = await nextIntermediate(o, algorithm, { certificate: root, key: rootKey.key }, rootGeneration, now);
  const paths = rootFilePaths(o.dir, rootGeneration);
  await writeNewCaFiles(o.dir, [
    ...rootKey.files,
    { path: paths.cert, contents: certificatePemOf(root), mode: 0o644 },
    { path: paths.cross!, contents: certificatePemOf(cross), mode: 0o644 },
    ...next.files,
  ]);
  await writeActiveGeneration(o.dir, next.generation);
  return { ca: await loadCa(o), rootGeneration, generation: next.generation };
}
