// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { systemClock, type Clock } from '../core/clock.js';
import { CA_BACKDATE_MS, createIntermediate, createRoot, type PublicationUrls } from './ca-certificates.js';
import type { CaSigningKey } from './ca-key.js';
import { allCaFiles, CaError, caFilePaths, fileExists, readCertificateFile, writeNewCaFiles } from './ca-file-io.js';
import { caKeySpecOf, keyLocation, proveKeyMatches } from './ca-keys.js';
import { fileKeyProvider } from './file-key-provider.js';
import { CaKeyNotFoundError, type CaKeyProvider, type CaKeyRole } from './key-provider.js';
import { intermediateFilePaths, intermediateGenerations, readActiveGeneration } from './intermediate-generations.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { checkExternalPath, isExternallyRooted, pendingIntermediateFiles, readExternalChain } from './external-root.js';
import type { KeyPassphrase } from './key-passphrase.js';
import type { NameConstraints } from './name-constraints.js';
import { rootFilePaths, rootGenerations } from './root-generations.js';
import type { CaKeyAlgorithm } from './types.js';
import { partitionCrlUrl } from './crl/partitions.js';
import { X509CertificateAuthority, type IntermediateParts, type RootParts } from './x509-authority.js';

export { CaError } from './ca-file-io.js';

const YEAR_MS = 365 * 24 * 3_600_000;

export const CA_DEFAULTS = {
  keyAlgorithm: 'ecdsa-p256',
  rootLifetimeMs: 10 * YEAR_MS,
  intermediateLifetimeMs: 5 * YEAR_MS,
} as const satisfies Partial<CaOptions>;

export interface CaOptions {
  /** The CA directory, e.g. <dataDir>/ca; its files are listed in ca-file-io.ts. */
  readonly dir: string;
  /** For a new CA only; an existing one keeps its key type. Default ecdsa-p256. */
  readonly keyAlgorithm?: CaKeyAlgorithm;
  /** Default 10 years. */
  readonly rootLifetimeMs?: number;
  /** Default 5 years, and never past the root. */
  readonly intermediateLifetimeMs?: number;
  /** "certmint" gives O=certmint, CN="certmint Root CA" / "certmint Intermediate CA". */
  readonly name: string;
  /**
   * The CRL distribution point put in every leaf of generation 1 (e.g. <baseUrl>/crl); leaves of
   * generation n >= 2 get `${crlUrl}/${n}` (see leafUrlsOf).
   */
  readonly crlUrl: string;
  /**
   * crl.partitions (default 1): N > 1 puts each new leaf in partition serial mod N, with the CRL
   * distribution point `${crlUrl}/<generation>/<partition>` (ca/crl/partitions.ts).
   */
  readonly crlPartitions?: number;
  /**
   * AIA caIssuers in every leaf of generation 1: where its DER is served (e.g.
   * <baseUrl>/intermediate.der); generation n >= 2: the same with ".der" replaced by "/<n>.der".
   */
  readonly caIssuersUrl: string;
  /**
   * Decrypts "ENCRYPTED PRIVATE KEY" files; when set, every key certmint writes is encrypted
   * with it (key-pem.ts). Absent: keys are written plain, and an encrypted one refuses to load.
   */
  readonly keyPassphrase?: KeyPassphrase;
  /**
   * ca.offlineRoot: the root keys are kept off this machine. The CA loads without them (a complete
   * CA needs the root certificates only) and never signs a root CRL; `certmint crl generate --root`
   * and the rotations load them where they are brought back. A first start still creates them.
   */
  readonly offlineRoot?: boolean;
  /**
   * ca.nameConstraints: written (critical) into every intermediate certmint creates from now on.
   * What binds issuance is the active intermediate's own extension (X509CertificateAuthority.nameConstraints).
   */
  readonly nameConstraints?: NameConstraints;
  /** Where the CA keys live and are created (ca.keyProvider); default: files in `dir` (file-key-provider.ts). */
  readonly keyProvider?: CaKeyProvider;
  readonly crypto?: Crypto;
  readonly clock?: Clock;
}

/** The key provider of `o`: the configured one, or the CA directory's key files. */
export function keyProviderOf(o: CaOptions): CaKeyProvider {
  return o.keyProvider ?? fileKeyProvider({ dir: o.dir, ...(o.keyPassphrase ? { keyPassphrase: o.keyPassphrase } : {}), ...(o.crypto ? { crypto: o.crypto } : {}) });
}

/** Creates a new root and intermediate in `o.dir`. Throws CaError if any CA file already exists. */
export async function initCa(o: CaOptions): Promise<X509CertificateAuthority> {
  const provider = keyProviderOf(o);
  const paths = caFilePaths(o.dir);
  for (const path of allCaFiles(paths)) {
    if (await fileExists(path)) {
      throw new CaError(`cannot create a CA in ${o.dir}: ${path} already exists (load the CA instead, or move the files away)`);
    }
  }
  const pending = pendingIntermediateFiles(o.dir).key;
  if (await fileExists(pending)) {
    throw new CaError(
      `cannot create a CA in ${o.dir}: ${pending} is waiting for its certificate from an external CA (certmint ca csr). ` +
        `Finish with certmint ca import --cert <signed.pem> --chain <root.pem>, or remove ${pending} to create a CA of certmint's own`,
    );
  }
  const algorithm = o.keyAlgorithm ?? CA_DEFAULTS.keyAlgorithm;
  const now = (o.clock ?? systemClock).now().getTime();
  const notBefore = new Date(now - CA_BACKDATE_MS);
  const rootNotAfter = new Date(now + (o.rootLifetimeMs ?? CA_DEFAULTS.rootLifetimeMs));
  const intermediateNotAfter = new Date(
    Math.min(now + (o.intermediateLifetimeMs ?? CA_DEFAULTS.intermediateLifetimeMs), rootNotAfter.getTime()),
  );

  const rootKey = await provider.create('root', 1, algorithm);
  const intermediateKey = await provider.create('intermediate', 1, algorithm);
  const root = await createRoot(rootKey.key, {
    subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Root CA`] }]),
    notBefore,
    notAfter: rootNotAfter,
  });
  const intermediate = await createIntermediate({ certificate: root, key: rootKey.key }, intermediateKey.key, {
    subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA`] }]),
    notBefore,
    notAfter: intermediateNotAfter,
    urls: rootUrlsOf(o, 1),
    ...(o.nameConstraints ? { nameConstraints: o.nameConstraints } : {}),
  });

  await writeNewCaFiles(o.dir, [
    ...rootKey.files,
    ...intermediateKey.files,
    { path: paths.rootCert, contents: root.toString('pem') + '\n', mode: 0o644 },
    { path: paths.intermediateCert, contents: intermediate.toString('pem') + '\n', mode: 0o644 },
  ]);
  // Load what was written: the CA that signs is always the one on disk, keys non-extractable.
  return loadCa(o);
}

/**
 * Loads the CA in `o.dir` with every root and intermediate generation in it, checking that each
 * key matches its certificate, that each cross certificate carries its root's name and key and was
 * signed by the root before it, and that one of the roots signed each intermediate. Throws CaError
 * naming the file and what is wrong with it.
 */
export async function loadCa(o: CaOptions): Promise<X509CertificateAuthority> {
  const crypto = o.crypto ?? nativeCryptoProvider();
  const provider = keyProviderOf(o);
  const roots: RootParts[] = [];
  const external = (await isExternallyRooted(o.dir)) ? await loadExternalRoot(o.dir) : undefined;
  if (external) roots.push(external.root);
  else {
    for (const generation of await rootGenerations(o.dir)) {
      roots.push(await loadRoot(o, provider, generation, roots.at(-1), crypto));
    }
  }
  const activeGeneration = await readActiveGeneration(o.dir);
  const generations = await intermediateGenerations(o.dir);
  if (!generations.includes(activeGeneration)) {
    throw new CaError(`the CA in ${o.dir} names intermediate generation ${activeGeneration} as active, but has no ${intermediateFilePaths(o.dir, activeGeneration).cert}`);
  }
  const intermediates: IntermediateParts[] = [];
  for (const generation of generations) {
    intermediates.push(await loadIntermediate(o, provider, roots, generation, crypto, external?.issuers));
  }
  const keyState = provider.keyState?.bind(provider);
  return new X509CertificateAuthority({
    roots,
    intermediates,
    activeGeneration,
    ...(o.crlPartitions !== undefined ? { crlPartitions: o.crlPartitions } : {}),
    ...(keyState ? { keyState } : {}),
  });
}

/** Where the leaves of a generation point: generation 1 keeps the URLs its leaves carry since `ca init`. */
export function leafUrlsOf(
  o: Pick<CaOptions, 'crlUrl' | 'caIssuersUrl'>,
  generation: number,
): { crlUrl: string; caIssuersUrl: string; partitionCrlUrl: (partition: number) => string } {
  const partitionUrl = (partition: number) => partitionCrlUrl(o.crlUrl, generation, partition);
  if (generation === 1) return { crlUrl: o.crlUrl, caIssuersUrl: o.caIssuersUrl, partitionCrlUrl: partitionUrl };
  return {
    crlUrl: `${o.crlUrl}/${generation}`,
    caIssuersUrl: `${o.caIssuersUrl.replace(/\.der$/, '')}/${generation}.der`,
    partitionCrlUrl: partitionUrl,
  };
}

/**
 * Where the CA certificates a root generation signs (certmint's intermediates, subordinate CAs)
 * point relying parties: that root's CRL (of the CA certificates it issued) and that root's
 * certificate, DER. Root 1: <base>/crl/root and <base>/root.der; root n >= 2: <base>/crl/root/<n>
 * and <base>/root/<n>.der. <base> is where leaves' CRLs are published (crlUrl without "/crl").
 */
export function rootUrlsOf(o: Pick<CaOptions, 'crlUrl'>, rootGeneration: number): PublicationUrls {
  const base = o.crlUrl.replace(/\/crl$/, '');
  if (rootGeneration === 1) return { crlUrl: `${base}/crl/root`, caIssuersUrl: `${base}/root.der` };
  return { crlUrl: `${base}/crl/root/${rootGeneration}`, caIssuersUrl: `${base}/root/${rootGeneration}.der` };
}

/** The provider's key for `certificate`, proven to be its key (whatever the provider). */
export async function loadKey(
  provider: CaKeyProvider,
  role: CaKeyRole,
  generation: number,
  certificate: x509.X509Certificate,
  certPath: string,
): Promise<CaSigningKey> {
  const key = await provider.load(role, generation, certificate);
  await proveKeyMatches(key, certificate, `${keyLocation(key)} holds a key that does not match the certificate in ${certPath}`);
  return key;
}

/** The external root (certmint ca import): its certificate only, and the CAs between it and the intermediate. */
async function loadExternalRoot(dir: string): Promise<{ root: RootParts; issuers: x509.X509Certificate[] }> {
  const files = rootFilePaths(dir, 1);
  if (await fileExists(files.key)) {
    throw new CaError(`the CA in ${dir} has both ${files.key} and the external root marker external-chain.pem; remove the one that does not belong`);
  }
  const certificate = await readCertificateFile(files.cert, 'the external root CA certificate');
  return { root: { generation: 1, certificate, key: undefined, cross: undefined }, issuers: await readExternalChain(dir) };
}

async function loadRoot(o: CaOptions, provider: CaKeyProvider, generation: number, previous: RootParts | undefined, crypto: Crypto): Promise<RootParts> {
  const dir = o.dir;
  const files = rootFilePaths(dir, generation);
  const what = generation === 1 ? 'the root CA' : `root CA ${generation}`;
  const certificate = await readCertificateFile(files.cert, `${what} certificate`);
  // The root key is kept for one thing: the CRL that covers the intermediates, which RFC 5280 §6.3
  // wants from the intermediates' issuer. Leaves and their CRLs are the intermediates'.
  caKeySpecOf(certificate, files.cert);
  const key = o.offlineRoot ? undefined : await loadRootKey(provider, generation, certificate, files);
  const offline = o.offlineRoot === true;
  if (files.cross === undefined || previous === undefined) return { generation, certificate, key, offline, cross: undefined };
  const cross = await readCertificateFile(files.cross, `the cross certificate of root CA ${generation}`);
  const sameKey = Buffer.from(cross.publicKey.rawData).equals(Buffer.from(certificate.publicKey.rawData));
  if (cross.subject !== certificate.subject || !sameKey) {
    throw new CaError(`CA file ${files.cross} is not a cross certificate of ${files.cert}: its subject or public key differs`);
  }
  if (!(await issuedBy(cross, previous.certificate, crypto))) {
    throw new CaError(`CA file ${files.cross} was not issued by the root before it (${rootFilePaths(dir, previous.generation).cert})`);
  }
  return { generation, certificate, key, offline, cross };
}

/** What to do when a root key cannot be loaded: it may be kept off this machine on purpose. */
const OFFLINE_ROOT_HINT =
  'certmint needs the root key only to sign the root CRL (certmint crl generate --root) and to rotate (ca rotate-intermediate, ca rotate-root): ' +
  'to run with it kept off this machine, set ca.offlineRoot: true (CERTMINT_CA_OFFLINE_ROOT=true) and bring it back for those commands';

async function loadRootKey(
  provider: CaKeyProvider,
  generation: number,
  certificate: x509.X509Certificate,
  files: { readonly key: string; readonly cert: string },
): Promise<CaSigningKey> {
  try {
    return await loadKey(provider, 'root', generation, certificate, files.cert);
  } catch (e) {
    // Only a key that is not there at all may be meant to be offline; one that is there but cannot
    // be used (encrypted without a passphrase, loose mode, another key) keeps its own message.
    const absent = (provider.keyIsFile?.('root') ?? true) ? !(await fileExists(files.key)) : e instanceof CaKeyNotFoundError;
    if (e instanceof CaError && absent) throw new CaError(`${e.message}. ${OFFLINE_ROOT_HINT}`);
    throw e;
  }
}

async function issuedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate, crypto: Crypto): Promise<boolean> {
  return cert.issuer === issuer.subject && (await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }, crypto));
}

async function loadIntermediate(
  o: CaOptions,
  provider: CaKeyProvider,
  roots: readonly RootParts[],
  generation: number,
  crypto: Crypto,
  externalIssuers: readonly x509.X509Certificate[] | undefined,
): Promise<IntermediateParts> {
  const files = intermediateFilePaths(o.dir, generation);
  const what = generation === 1 ? 'the intermediate CA' : `the intermediate CA of generation ${generation}`;
  const certificate = await readCertificateFile(files.cert, `${what} certificate`);
  caKeySpecOf(certificate, files.cert);
  const key = await loadKey(provider, 'intermediate', generation, certificate, files.cert);
  if (externalIssuers) {
    const root = roots[0]!;
    checkExternalPath(certificate, externalIssuers, root.certificate, `${files.cert}, external-chain.pem and root.pem of ${o.dir}`);
    return { generation, rootGeneration: root.generation, certificate, key, upperChain: externalIssuers, ...leafUrlsOf(o, generation) };
  }
  let rootGeneration: number | undefined;
  for (const root of roots) {
    if (await issuedBy(certificate, root.certificate, crypto)) rootGeneration = root.generation;
  }
  if (rootGeneration === undefined) {
    const rootFiles = roots.map((r) => rootFilePaths(o.dir, r.generation).cert).join(', ');
    throw new CaError(`CA certificate ${files.cert} was not issued by the root in ${rootFiles}`);
  }
  return { generation, rootGeneration, certificate, key, ...leafUrlsOf(o, generation) };
}

/**
 * First start: no CA file exists, so a CA is created. Later starts: all exist and are loaded.
 * Anything in between is an error naming the missing files: a new CA must never silently
 * replace one that clients already trust. With `refuseToCreate`, no CA files is that error instead
 * (a shared ledger that already has a CA).
 */
export async function loadOrInitCa(o: CaOptions, refuseToCreate?: string): Promise<{ ca: X509CertificateAuthority; created: boolean }> {
  const paths = caFilePaths(o.dir);
  // Under an external root there is no root key to find; a key its provider keeps elsewhere (a token) is no file either.
  const external = await isExternallyRooted(o.dir);
  const provider = keyProviderOf(o);
  const keyIsFile = (role: CaKeyRole) => provider.keyIsFile?.(role) ?? true;
  // Nor with ca.offlineRoot, where the root key is kept elsewhere on purpose (a first start still creates it).
  const files = allCaFiles(paths).filter(
    (f) =>
      !(f === paths.rootKey && (external || !keyIsFile('root') || o.offlineRoot)) && !(f === paths.intermediateKey && !keyIsFile('intermediate')),
  );
  const present = await Promise.all(files.map(fileExists));
  if (!external && present.every((p) => !p)) {
    if (refuseToCreate !== undefined) throw new CaError(refuseToCreate);
    return { ca: await initCa(o), created: true };
  }
  if (present.every((p) => p)) return { ca: await loadCa(o), created: false };
  const missing = files.filter((_, i) => !present[i]);
  throw new CaError(
    `the CA in ${o.dir} is incomplete: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. ` +
      'certmint will not create a new CA over part of an existing one. Restore the missing file from a backup; ' +
      `or, if this CA never issued a certificate anyone relies on, remove ${o.dir} to create a fresh CA.` +
      (missing.includes(paths.rootKey)
        ? ` If the root key is kept off this machine on purpose, set ca.offlineRoot: true (CERTMINT_CA_OFFLINE_ROOT=true): certmint needs it only for certmint crl generate --root and the rotations.`
        : ''),
  );
}
