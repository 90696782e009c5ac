// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { CaError, errorText } from './ca-file-io.js';
import type { CaKeyAlgorithm } from './types.js';

/** How a CA key is generated or imported, and how it signs (WebCrypto parameters). */
export interface CaKeySpec {
  readonly algorithm: CaKeyAlgorithm;
  readonly keyParams: EcKeyImportParams | RsaHashedImportParams;
  readonly signing: EcdsaParams | Algorithm;
}

const RSA_PKCS1 = 'RSASSA-PKCS1-v1_5';

/** ECDSA signs with the hash that matches the curve size (P-256/SHA-256, P-384/SHA-384); RSA with PKCS#1 v1.5 SHA-256. */
export function caKeySpec(algorithm: CaKeyAlgorithm): CaKeySpec {
  switch (algorithm) {
    case 'ecdsa-p256':
      return { algorithm, keyParams: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' } };
    case 'ecdsa-p384':
      return { algorithm, keyParams: { name: 'ECDSA', namedCurve: 'P-384' }, signing: { name: 'ECDSA', hash: 'SHA-384' } };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return { algorithm, keyParams: { name: RSA_PKCS1, hash: 'SHA-256' }, signing: { name: RSA_PKCS1 } };
  }
}

export async function generateCaKeyPair(spec: CaKeySpec, crypto: Crypto): Promise<CryptoKeyPair> {
  const params: EcKeyGenParams | RsaHashedKeyGenParams =
    spec.keyParams.name === 'ECDSA'
      ? (spec.keyParams as EcKeyGenParams)
      : {
          name: RSA_PKCS1,
          hash: 'SHA-256',
          modulusLength: Number(spec.algorithm.slice('rsa-'.length)),
          publicExponent: new Uint8Array([1, 0, 1]),
        };
  // Extractable: the new private keys are written to PKCS#8 files once, then imported again
  // non-extractable for signing (loadCa). An HSM-backed CA will generate its keys in the token instead.
  return crypto.subtle.generateKey(params, true, ['sign', 'verify']);
}

/** The spec of an existing CA certificate's key: an existing CA keeps its algorithm whatever the config says now. */
export function caKeySpecOf(cert: x509.X509Certificate, path: string): CaKeySpec {
  const alg = cert.publicKey.algorithm as Algorithm & { namedCurve?: string; modulusLength?: number };
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-256') return caKeySpec('ecdsa-p256');
  if (alg.name === 'ECDSA' && alg.namedCurve === 'P-384') return caKeySpec('ecdsa-p384');
  if (alg.name === RSA_PKCS1 && alg.modulusLength !== undefined) {
    const algorithm = `rsa-${alg.modulusLength}`;
    if (algorithm === 'rsa-2048' || algorithm === 'rsa-3072' || algorithm === 'rsa-4096') return caKeySpec(algorithm);
  }
  const described = alg.namedCurve ?? (alg.modulusLength !== undefined ? `${alg.modulusLength} bits` : '');
  throw new CaError(
    `CA certificate ${path} has a ${alg.name} ${described} key; certmint's CA keys are ECDSA P-256/P-384 or RSA 2048/3072/4096`,
  );
}

/**
 * Imports a PKCS#8 private key as a non-extractable signing key and proves it belongs to `cert`
 * by signing a random message and verifying it with the certificate's public key.
 */
export async function importCaPrivateKey(
  pkcs8: Uint8Array,
  cert: x509.X509Certificate,
  spec: CaKeySpec,
  paths: { readonly key: string; readonly cert: string },
  crypto: Crypto,
): Promise<CryptoKey> {
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey('pkcs8', Uint8Array.from(pkcs8), spec.keyParams, false, ['sign']);
  } catch (e) {
    throw new CaError(
      `CA file ${paths.key} is not a ${spec.algorithm} private key, which ${paths.cert} needs: ${errorText(e)}`,
    );
  }
  const message = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await cert.publicKey.export(spec.keyParams, ['verify'], crypto);
  const signature = await crypto.subtle.sign(spec.signing, privateKey, message);
  if (!(await crypto.subtle.verify(spec.signing, publicKey, signature, message))) {
    throw new CaError(`CA file ${paths.key} holds a key that does not match the certificate in ${paths.cert}`);
  }
  return privateKey;
}
