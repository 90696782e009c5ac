// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { readFile } from 'node:fs/promises';
import * as x509 from '@peculiar/x509';
import { allCaFiles, CaError, caFilePaths, errorText, fileExists, writeNewCaFiles } from './ca-file-io.js';
import { CA_DEFAULTS, type CaOptions } from './ca-files.js';
import { keyPemOf } from './ca-certificates.js';
import { caKeySpec, generateCaKeyPair } from './ca-keys.js';
import { nativeCryptoProvider } from './crypto-provider.js';
import { isExternallyRooted, pendingIntermediateFiles } from './external-root.js';

export interface IntermediateCsr {
  /** PKCS#10 PEM, for the external CA to sign. */
  readonly csrPem: string;
  /** Where its private key waits for `certmint ca import` (pending-intermediate.key.pem). */
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

  const crypto = o.crypto ?? nativeCryptoProvider();
  const spec = caKeySpec(o.keyAlgorithm ?? CA_DEFAULTS.keyAlgorithm);
  const keys = await generateCaKeyPair(spec, crypto);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: new x509.Name([{ O: [o.name] }, { CN: [`${o.name} Intermediate CA`] }]),
      keys,
      signingAlgorithm: spec.signing,
      extensions: [
        // What certmint's own intermediates carry (ca-certificates.ts); the signer may or may not copy them.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const csrPem = csr.toString('pem').replace(/\r\n/g, '\n') + '\n';
  await writeNewCaFiles(o.dir, [
    { path: pending.key, contents: await keyPemOf(keys.privateKey, crypto, o.keyPassphrase), mode: 0o600 },
    { path: pending.csr, contents: csrPem, mode: 0o644 },
  ]);
  return { csrPem, keyFile: pending.key, reused: false };
}
