// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { systemClock, type Clock } from '../core/clock.js';
import {
  allCaFiles,
  CaError,
  caFilePaths,
  fileExists,
  readCertificateFile,
  readPrivateKeyFile,
  writeNewCaFiles,
} from './ca-file-io.js';
import { caKeySpec, caKeySpecOf, generateCaKeyPair, importCaPrivateKey, type CaKeySpec } from './ca-keys.js';
import {
  intermediateFilePaths,
  intermediateGenerations,
  readActiveGeneration,
  writeActiveGeneration,
} from './intermediate-generations.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { newSerialHex } from './serial.js';
import type { CaKeyAlgorithm } from './types.js';
import { subjectKeyIdOf } from './issuer-fields.js';
import { X509CertificateAuthority, type IntermediateParts } from './x509-authority.js';

export { CaError } from './ca-file-io.js';

const YEAR_MS = 365 * 24 * 3_600_000;
/** CA certificates start an hour in the past so clients whose clocks lag still accept them at once. */
const CA_BACKDATE_MS = 3_600_000;

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
   * AIA caIssuers in every leaf of generation 1: where its DER is served (e.g.
   * <baseUrl>/intermediate.der); generation n >= 2: the same with ".der" replaced by "/<n>.der".
   */
  readonly caIssuersUrl: string;
  readonly crypto?: Crypto;
  readonly clock?: Clock;
}

/** Creates a new root and intermediate in `o.dir`. Throws CaError if any CA file already exists. */
export async function initCa(o: CaOptions): Promise<X509CertificateAuthority> {
  const crypto = o.crypto ?? nativeCryptoProvider();
  const paths = caFilePaths(o.dir);
  for (const path of allCaFiles(paths)) {
    if (await fileExists(path)) {
      throw new CaError(`cannot create a CA in ${o.dir}: ${path} already exists (load the CA instead, or move the files away)`);
    }
  }
  const spec = caKeySpec(o.keyAlgorithm ?? CA_DEFAULTS.keyAlgorithm);
  const now = (o.clock ?? systemClock).now().getTime();
  const notBefore = new Date(now - CA_BACKDATE_MS);
  const rootNotAfter = new Date(now + (o.rootLifetimeMs ?? CA_DEFAULTS.rootLifetimeMs));
  const intermediateNotAfter = new Date(
    Math.min(now + (o.intermediateLifetimeMs ?? CA_DEFAULTS.intermediateLifetimeMs), rootNotAfter.getTime()),
  );

  const rootKeys = await generateCaKeyPair(spec, crypto);
  const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, crypto);
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerialHex(),
      name: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Root CA`] }]),
      notBefore,
      notAfter: rootNotAfter,
      keys: rootKeys,
      signingAlgorithm: spec.signing,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        rootSki,
      ],
    },
    crypto,
  );

  const { certificate: intermediate, keys: intermediateKeys } = await createIntermediate(
    { root, rootPrivateKey: rootKeys.privateKey, spec, crypto },
    { subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA`] }]), notBefore, notAfter: intermediateNotAfter },
  );

  await writeNewCaFiles(o.dir, [
    { path: paths.rootKey, contents: await keyPemOf(rootKeys.privateKey, crypto), mode: 0o600 },
    { path: paths.intermediateKey, contents: await keyPemOf(intermediateKeys.privateKey, crypto), mode: 0o600 },
    { path: paths.rootCert, contents: root.toString('pem') + '\n', mode: 0o644 },
    { path: paths.intermediateCert, contents: intermediate.toString('pem') + '\n', mode: 0o644 },
  ]);
  // Load what was written: the CA that signs is always the one on disk, keys non-extractable.
  return loadCa(o);
}

/**
 * Loads the CA in `o.dir` with every intermediate generation in it, checking that each key
 * matches its certificate and that the root signed each intermediate. Throws CaError naming the
 * file and what is wrong with it.
 */
export async function loadCa(o: CaOptions): Promise<X509CertificateAuthority> {
  const crypto = o.crypto ?? nativeCryptoProvider();
  const paths = caFilePaths(o.dir);
  const root = await readCertificateFile(paths.rootCert, 'the root CA certificate');
  const rootKeyDer = await readPrivateKeyFile(paths.rootKey, 'the root CA private key');
  // The root key is kept (non-extractable) for one thing: the CRL that covers the intermediates,
  // which RFC 5280 §6.3 wants from the intermediates' issuer. Leaves and their CRLs are the intermediates'.
  const rootKeySpec = caKeySpecOf(root, paths.rootCert);
  const rootKey = await importCaPrivateKey(rootKeyDer, root, rootKeySpec, { key: paths.rootKey, cert: paths.rootCert }, crypto);

  const activeGeneration = await readActiveGeneration(o.dir);
  const generations = await intermediateGenerations(o.dir);
  if (!generations.includes(activeGeneration)) {
    throw new CaError(`the CA in ${o.dir} names intermediate generation ${activeGeneration} as active, but has no ${intermediateFilePaths(o.dir, activeGeneration).cert}`);
  }
  const intermediates: IntermediateParts[] = [];
  for (const generation of generations) {
    intermediates.push(await loadIntermediate(o, root, generation, crypto));
  }
  return new X509CertificateAuthority({ root, intermediates, activeGeneration, rootKey, rootKeySpec, crypto });
}

/** Where the leaves of a generation point: generation 1 keeps the URLs its leaves carry since `ca init`. */
export function leafUrlsOf(o: Pick<CaOptions, 'crlUrl' | 'caIssuersUrl'>, generation: number): { crlUrl: string; caIssuersUrl: string } {
  if (generation === 1) return { crlUrl: o.crlUrl, caIssuersUrl: o.caIssuersUrl };
  return { crlUrl: `${o.crlUrl}/${generation}`, caIssuersUrl: `${o.caIssuersUrl.replace(/\.der$/, '')}/${generation}.der` };
}

async function loadIntermediate(o: CaOptions, root: x509.X509Certificate, generation: number, crypto: Crypto): Promise<IntermediateParts> {
  const files = intermediateFilePaths(o.dir, generation);
  const what = generation === 1 ? 'the intermediate CA' : `the intermediate CA of generation ${generation}`;
  const certificate = await readCertificateFile(files.cert, `${what} certificate`);
  const keyDer = await readPrivateKeyFile(files.key, `${what} private key`);
  const keySpec = caKeySpecOf(certificate, files.cert);
  const key = await importCaPrivateKey(keyDer, certificate, keySpec, files, crypto);
  const signedByRoot =
    certificate.issuer === root.subject && (await certificate.verify({ publicKey: root.publicKey, signatureOnly: true }, crypto));
  if (!signedByRoot) {
    throw new CaError(`CA certificate ${files.cert} was not issued by the root in ${caFilePaths(o.dir).rootCert}`);
  }
  return { generation, certificate, key, keySpec, ...leafUrlsOf(o, generation) };
}

/**
 * A new intermediate under the same root (certmint ca rotate-intermediate): written as
 * intermediate-<n>.key.pem / intermediate-<n>.pem (never over an existing file), then made the
 * active generation. The older generations stay: they keep signing the CRLs of their leaves.
 * A running server goes on issuing from the generation it loaded until it is restarted.
 */
export async function rotateIntermediate(o: CaOptions): Promise<{ ca: X509CertificateAuthority; generation: number }> {
  const crypto = o.crypto ?? nativeCryptoProvider();
  // Everything there must load before anything is added to it.
  const current = await loadCa(o);
  const paths = caFilePaths(o.dir);
  const root = current.rootCertificate;
  const rootKeySpec = caKeySpecOf(root, paths.rootCert);
  const rootPrivateKey = await importCaPrivateKey(
    await readPrivateKeyFile(paths.rootKey, 'the root CA private key'),
    root,
    rootKeySpec,
    { key: paths.rootKey, cert: paths.rootCert },
    crypto,
  );
  const generation = Math.max(...(await intermediateGenerations(o.dir))) + 1;
  const now = (o.clock ?? systemClock).now().getTime();
  if (root.notAfter.getTime() <= now) throw new CaError(`the root CA in ${paths.rootCert} has expired; it cannot sign a new intermediate`);
  const notAfter = new Date(Math.min(now + (o.intermediateLifetimeMs ?? CA_DEFAULTS.intermediateLifetimeMs), root.notAfter.getTime()));
  // The new intermediate keeps the key type of the one it replaces.
  const spec = caKeySpec(current.keyAlgorithm);
  const { certificate, keys } = await createIntermediate(
    { root, rootPrivateKey, spec, crypto },
    {
      subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA G${generation}`] }]),
      notBefore: new Date(now - CA_BACKDATE_MS),
      notAfter,
    },
  );
  const files = intermediateFilePaths(o.dir, generation);
  await writeNewCaFiles(o.dir, [
    { path: files.key, contents: await keyPemOf(keys.privateKey, crypto), mode: 0o600 },
    { path: files.cert, contents: certificate.toString('pem') + '\n', mode: 0o644 },
  ]);
  await writeActiveGeneration(o.dir, generation);
  return { ca: await loadCa(o), generation };
}

interface IntermediateSigner {
  readonly root: x509.X509Certificate;
  readonly rootPrivateKey: CryptoKey;
  readonly spec: CaKeySpec;
  readonly crypto: Crypto;
}

/** A new intermediate key pair and its certificate signed by the root. */
async function createIntermediate(
  by: IntermediateSigner,
  o: { subject: x509.Name; notBefore: Date; notAfter: Date },
): Promise<{ certificate: x509.X509Certificate; keys: CryptoKeyPair }> {
  const keys = await generateCaKeyPair(by.spec, by.crypto);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerialHex(),
      subject: o.subject,
      issuer: by.root.subjectName,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      publicKey: keys.publicKey,
      signingKey: by.rootPrivateKey,
      signingAlgorithm: by.spec.signing,
      extensions: [
        // pathLen 0: the intermediate signs leaves, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, by.crypto),
        new x509.AuthorityKeyIdentifierExtension(subjectKeyIdOf(by.root)),
      ],
    },
    by.crypto,
  );
  return { certificate, keys };
}

async function keyPemOf(key: CryptoKey, crypto: Crypto): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
}

/**
 * First start: no CA file exists, so a CA is created. Later starts: all exist and are loaded.
 * Anything in between is an error naming the missing files: a new CA must never silently
 * replace one that clients already trust.
 */
export async function loadOrInitCa(o: CaOptions): Promise<{ ca: X509CertificateAuthority; created: boolean }> {
  const files = allCaFiles(caFilePaths(o.dir));
  const present = await Promise.all(files.map(fileExists));
  if (present.every((p) => !p)) return { ca: await initCa(o), created: true };
  if (present.every((p) => p)) return { ca: await loadCa(o), created: false };
  const missing = files.filter((_, i) => !present[i]);
  throw new CaError(
    `the CA in ${o.dir} is incomplete: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. ` +
      'certmint will not create a new CA over part of an existing one. Restore the missing file from a backup; ' +
      `or, if this CA never issued a certificate anyone relies on, remove ${o.dir} to create a fresh CA.`,
  );
}
