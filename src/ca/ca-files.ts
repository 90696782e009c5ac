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
import { caKeySpec, caKeySpecOf, generateCaKeyPair, importCaPrivateKey } from './ca-keys.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { newSerialHex } from './serial.js';
import type { CaKeyAlgorithm } from './types.js';
import { X509CertificateAuthority } from './x509-authority.js';

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
  /** The CRL distribution point put in every leaf. */
  readonly crlUrl: string;
  /** AIA caIssuers in every leaf: where the intermediate's DER is served. */
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

  const intermediateKeys = await generateCaKeyPair(spec, crypto);
  const intermediate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerialHex(),
      subject: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA`] }]),
      issuer: root.subjectName,
      notBefore,
      notAfter: intermediateNotAfter,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: spec.signing,
      extensions: [
        // pathLen 0: the intermediate signs leaves, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey, false, crypto),
        new x509.AuthorityKeyIdentifierExtension(rootSki.keyId),
      ],
    },
    crypto,
  );

  const keyPem = async (key: CryptoKey) =>
    x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
  await writeNewCaFiles(o.dir, [
    { path: paths.rootKey, contents: await keyPem(rootKeys.privateKey), mode: 0o600 },
    { path: paths.intermediateKey, contents: await keyPem(intermediateKeys.privateKey), mode: 0o600 },
    { path: paths.rootCert, contents: root.toString('pem') + '\n', mode: 0o644 },
    { path: paths.intermediateCert, contents: intermediate.toString('pem') + '\n', mode: 0o644 },
  ]);
  // Load what was written: the CA that signs is always the one on disk, keys non-extractable.
  return loadCa(o);
}

/**
 * Loads the CA in `o.dir`, checking that each key matches its certificate and that the root
 * signed the intermediate. Throws CaError naming the file and what is wrong with it.
 */
export async function loadCa(o: CaOptions): Promise<X509CertificateAuthority> {
  const crypto = o.crypto ?? nativeCryptoProvider();
  const paths = caFilePaths(o.dir);
  const root = await readCertificateFile(paths.rootCert, 'the root CA certificate');
  const intermediate = await readCertificateFile(paths.intermediateCert, 'the intermediate CA certificate');
  const rootKeyDer = await readPrivateKeyFile(paths.rootKey, 'the root CA private key');
  const intermediateKeyDer = await readPrivateKeyFile(paths.intermediateKey, 'the intermediate CA private key');

  // The root key is kept (non-extractable) for one thing: the CRL that covers the intermediate,
  // which RFC 5280 §6.3 wants from the intermediate's issuer. Leaves and their CRL are the intermediate's.
  const rootKeySpec = caKeySpecOf(root, paths.rootCert);
  const rootKey = await importCaPrivateKey(rootKeyDer, root, rootKeySpec, { key: paths.rootKey, cert: paths.rootCert }, crypto);
  const keySpec = caKeySpecOf(intermediate, paths.intermediateCert);
  const intermediateKey = await importCaPrivateKey(
    intermediateKeyDer,
    intermediate,
    keySpec,
    { key: paths.intermediateKey, cert: paths.intermediateCert },
    crypto,
  );
  const signedByRoot =
    intermediate.issuer === root.subject &&
    (await intermediate.verify({ publicKey: root.publicKey, signatureOnly: true }, crypto));
  if (!signedByRoot) {
    throw new CaError(`CA certificate ${paths.intermediateCert} was not issued by the root in ${paths.rootCert}`);
  }
  return new X509CertificateAuthority({
    root,
    intermediate,
    intermediateKey,
    keySpec,
    rootKey,
    rootKeySpec,
    crlUrl: o.crlUrl,
    caIssuersUrl: o.caIssuersUrl,
    crypto,
  });
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
