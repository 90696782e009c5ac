// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createPublicKey, KeyObject, randomBytes, sign, verify } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CaSigningKey } from './ca-key.js';
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
  // Extractable: the file provider writes the new private key to a PKCS#8 file once, then loadCa
  // imports it again non-extractable for signing. A token provider generates its keys on the token.
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

/** The hash a CA key's signatures use (caKeySpec): node:crypto's name for it. */
function hashOf(spec: CaKeySpec): string {
  const hash = spec.signing.name === 'ECDSA' ? (spec.signing as EcdsaParams).hash : (spec.keyParams as RsaHashedImportParams).hash;
  return String(typeof hash === 'string' ? hash : hash.name).replace('-', '').toLowerCase();
}

/**
 * A CA private key held as Node's own CryptoKey, signing through node:crypto: synchronously, in
 * CaSigningKey's form (r‖s for ECDSA, as WebCrypto gives it). WebCrypto's sign queues a job and
 * resolves a promise for the same OpenSSL call: 145 µs of CPU per signature here against 61 µs
 * (issue 27: every leaf and OCSP-less CRL is one). Undefined for a key of another WebCrypto
 * implementation (a test's provider), which then keeps signing through its own subtle.sign.
 */
export function nodeSigner(privateKey: CryptoKey, spec: CaKeySpec): ((data: Uint8Array) => Uint8Array) | undefined {
  let key: KeyObject;
  try {
    key = KeyObject.from(privateKey);
  } catch {
    return undefined;
  }
  const hash = hashOf(spec);
  // RSASSA-PKCS1-v1_5 is node:crypto's default padding for an RSA key.
  const options = spec.signing.name === 'ECDSA' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  return (data) => new Uint8Array(sign(hash, data, options));
}

/**
 * Proves that `key` belongs to `cert`, wherever the key lives: signs a random message with it and
 * verifies the signature with the certificate's public key. Throws CaError(`mismatch`) if not.
 */
export async function proveKeyMatches(key: CaSigningKey, cert: x509.X509Certificate, mismatch: string): Promise<void> {
  const message = randomBytes(32);
  const signature = await key.sign(message);
  if (!signatureVerifies(key.spec, new Uint8Array(cert.publicKey.rawData), message, signature)) throw new CaError(mismatch);
}

/**
 * Whether `signature` (in CaSigningKey's form: r‖s for ECDSA) over `data` verifies with the DER
 * SubjectPublicKeyInfo `spki`, as spec's algorithm signs. False, never a throw, for a key or
 * signature that does not even parse.
 */
export function signatureVerifies(spec: CaKeySpec, spki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    const publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    return verify(hashOf(spec), data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** How a mismatch names where the key lives: "CA file <path>" for a file key, its description otherwise. */
export function keyLocation(key: CaSigningKey): string {
  return key.description.startsWith('file ') ? `CA file ${key.description.slice('file '.length)}` : `the key ${key.description}`;
}

/** Imports a PKCS#8 private key (the file provider's) as a non-extractable signing key of `spec`. */
export async function importCaSigningKey(pkcs8: Uint8Array, spec: CaKeySpec, keyPath: string, crypto: Crypto, certPath?: string): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey('pkcs8', Uint8Array.from(pkcs8), spec.keyParams, false, ['sign']);
  } catch (e) {
    const needs = certPath === undefined ? '' : `, which ${certPath} needs`;
    throw new CaError(`CA file ${keyPath} is not a ${spec.algorithm} private key${needs}: ${errorText(e)}`);
  }
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
  const privateKey = await importCaSigningKey(pkcs8, spec, paths.key, crypto, paths.cert);
  const signingKey: CaSigningKey = {
    spec,
    spki: new Uint8Array(cert.publicKey.rawData),
    description: `file ${paths.key}`,
    sign: async (data) => new Uint8Array(await crypto.subtle.sign(spec.signing, privateKey, data as Uint8Array<ArrayBuffer>)),
  };
  await proveKeyMatches(signingKey, cert, `CA file ${paths.key} holds a key that does not match the certificate in ${paths.cert}`);
  return privateKey;
}
