import type * as x509 from '@peculiar/x509';
import type { CaSigningKey } from './ca-key.js';
import { CaError, fileExists, readPrivateKeyFile } from './ca-file-io.js';
import { caKeySpec, caKeySpecOf, generateCaKeyPair, importCaSigningKey, nodeSigner, type CaKeySpec } from './ca-keys.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { pendingIntermediateFiles } from './external-root.js';
import { intermediateFilePaths } from './intermediate-generations.js';
import type { KeyPassphrase } from './key-passphrase.js';
import { privateKeyPemOf } from './key-pem.js';
import type { CaKeyProvider, CaKeyRole, NewCaKey } from './key-provider.js';
import { rootFilePaths } from './root-generations.js';
import type { CaKeyAlgorithm } from './types.js';

/** ca.keyProvider: file, today's keys: PKCS#8 PEM files in the CA directory. */
export interface FileKeyProviderOptions {
  readonly dir: string;
  /** Decrypts encrypted key files and encrypts every new one (key-pem.ts); absent: written plain. */
  readonly keyPassphrase?: KeyPassphrase;
  readonly crypto?: Crypto;
}

/** The key file of a (role, generation), and how messages name it. */
export function caKeyFile(dir: string, role: CaKeyRole, generation: number): { readonly path: string; readonly certPath: string; readonly what: string } {
  if (role === 'pending-intermediate') {
    const files = pendingIntermediateFiles(dir);
    return { path: files.key, certPath: files.csr, what: 'the pending intermediate private key (certmint ca csr)' };
  }
  if (role === 'root') {
    const files = rootFilePaths(dir, generation);
    return { path: files.key, certPath: files.cert, what: generation === 1 ? 'the root CA private key' : `root CA ${generation} private key` };
  }
  const files = intermediateFilePaths(dir, generation);
  const what = generation === 1 ? 'the intermediate CA private key' : `the intermediate CA of generation ${generation} private key`;
  return { path: files.key, certPath: files.cert, what };
}

function bytesOf(signature: ArrayBuffer): Uint8Array {
  return new Uint8Array(signature);
}

/**
 * A WebCrypto private key (non-extractable once loaded) as a CaSigningKey: the only place in ca/
 * that holds a CryptoKey of a CA.
 */
export function fileSigningKey(privateKey: CryptoKey, spec: CaKeySpec, spki: Uint8Array, path: string, crypto: Crypto): CaSigningKey {
  // A provider passed in (a test's, a recording one) signs itself; Node's own is bypassed for node:crypto.
  const signNow = crypto === nativeCryptoProvider() ? nodeSigner(privateKey, spec) : undefined;
  return {
    spec,
    spki,
    description: `file ${path}`,
    // Every leaf's path: node:crypto for Node's WebCrypto, else the provider's subtle.sign (which
    // reads any view: a leaf's TBS is signed without a copy; the cast only narrows the type).
    sign: signNow
      ? async (data) => signNow(data)
      : (data) => crypto.subtle.sign(spec.signing, privateKey, data as Uint8Array<ArrayBuffer>).then(bytesOf),
  };
}

export function fileKeyProvider(o: FileKeyProviderOptions): CaKeyProvider {
  const crypto = o.crypto ?? nativeCryptoProvider();
  return {
    async load(role, generation, certificate: x509.X509Certificate) {
      const { path, certPath, what } = caKeyFile(o.dir, role, generation);
      const spec = caKeySpecOf(certificate, certPath);
      const der = await readPrivateKeyFile(path, what, o.keyPassphrase);
      try {
        const key = await importCaSigningKey(der, spec, path, crypto, certPath);
        return fileSigningKey(key, spec, new Uint8Array(certificate.publicKey.rawData), path, crypto);
      } finally {
        der.fill(0);
      }
    },

    async create(role, generation, algorithm: CaKeyAlgorithm): Promise<NewCaKey> {
      const { path } = caKeyFile(o.dir, role, generation);
      if (await fileExists(path)) throw new CaError(`cannot create a CA key in ${path}: the file exists`);
      const spec = caKeySpec(algorithm);
      // Extractable once, to be written; the CA that signs afterwards loads it again from the file.
      const keys = await generateCaKeyPair(spec, crypto);
      const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey));
      const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
      let contents: string;
      try {
        contents = privateKeyPemOf(der, o.keyPassphrase);
      } finally {
        der.fill(0);
      }
      return { key: fileSigningKey(keys.privateKey, spec, spki, path, crypto), files: [{ path, contents, mode: 0o600 }] };
    },
  };
}
