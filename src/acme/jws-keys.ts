import { constants, createPublicKey, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';

type VerifyKeyWithOptions = VerifyKeyObjectInput & { readonly dsaEncoding?: 'ieee-p1363'; readonly padding?: number };

/*
 * JWS signature checks with node:crypto KeyObjects (RFC 7518 §3). Every ACME POST is one
 * verification; through WebCrypto each cost about 0.2 ms of the event loop in argument
 * normalization and job dispatch, several times the signature check itself. A KeyObject made once
 * per account key (JwsVerifier caches it) and a synchronous verify do the same check for a
 * fraction of that. These are account keys, public and client-chosen: the CA's own keys stay
 * in ca/, behind CaSigningKey (a file key or a key on a PKCS#11 token).
 */

/** RFC 7518 §3.1 algorithms certmint accepts, and the key each needs. */
const KEY_OF_ALG = {
  ES256: { kty: 'EC', crv: 'P-256', hash: 'sha256', bytes: 64 },
  ES384: { kty: 'EC', crv: 'P-384', hash: 'sha384', bytes: 96 },
  RS256: { kty: 'RSA', hash: 'sha256' },
  EdDSA: { kty: 'OKP' },
} as const;

export type JwsAlgorithm = keyof typeof KEY_OF_ALG;

export const JWS_ALGORITHMS = Object.keys(KEY_OF_ALG) as readonly JwsAlgorithm[];

/** RFC 7518 §3.3: RSA keys of at least 2048 bits. */
const MIN_RSA_BITS = 2048;

export class JwsKeyError extends Error {
  override readonly name = 'JwsKeyError';
}

export interface JwsKey {
  readonly alg: JwsAlgorithm;
  readonly key: KeyObject;
  /**
   * What crypto.verify takes for this alg (the key, with the ECDSA signature form or the RSA
   * padding), its digest and the ECDSA signature length: made once with the key, which
   * JwsVerifier caches per account, so a request switches on nothing.
   */
  readonly verifyWith: VerifyWith;
}

/** crypto.verify's arguments for one key: digest (null for EdDSA), key input, and R || S length when fixed. */
export interface VerifyWith {
  readonly hash: 'sha256' | 'sha384' | null;
  readonly input: KeyObject | VerifyKeyWithOptions;
  readonly signatureBytes: number | undefined;
}

export function isJwsAlgorithm(alg: string): alg is JwsAlgorithm {
  return Object.hasOwn(KEY_OF_ALG, alg);
}

/**
 * A public JWK as a KeyObject for `alg`. @throws JwsKeyError when the key does not fit the alg,
 * is not a valid public key (an EC point off its curve, say) or is an RSA key under 2048 bits.
 */
export function importJwsKey(jwk: Readonly<Record<string, unknown>>, alg: JwsAlgorithm): JwsKey {
  const wanted = KEY_OF_ALG[alg];
  if (jwk.kty !== wanted.kty) throw new JwsKeyError(`${alg} needs a ${wanted.kty} key, not ${String(jwk.kty)}`);
  if ('crv' in wanted && jwk.crv !== wanted.crv) throw new JwsKeyError(`${alg} needs curve ${wanted.crv}, not ${String(jwk.crv)}`);
  if (alg === 'EdDSA' && jwk.crv !== 'Ed25519' && jwk.crv !== 'Ed448') {
    throw new JwsKeyError(`EdDSA needs curve Ed25519 or Ed448, not ${String(jwk.crv)}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch (e) {
    throw new JwsKeyError(`it is not a valid ${String(jwk.kty)} public key (${(e as Error).message})`);
  }
  if (alg === 'RS256') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new JwsKeyError(`RS256 keys must be at least ${MIN_RSA_BITS} bits, this one has ${bits}`);
    const exponent = key.asymmetricKeyDetails?.publicExponent;
    // As for certificate keys (policy/keys.ts): 65537 only.
    if (exponent !== 65537n) throw new JwsKeyError(`RSA public exponent ${String(exponent)} is not accepted (use 65537)`);
  }
  return { alg, key, verifyWith: verifyInput(alg, key) };
}

function verifyInput(alg: JwsAlgorithm, key: KeyObject): VerifyWith {
  switch (alg) {
    case 'ES256':
    case 'ES384': {
      const { hash, bytes } = KEY_OF_ALG[alg];
      // RFC 7518 §3.4: R || S of fixed length, not DER.
      return { hash, input: { key, dsaEncoding: 'ieee-p1363' }, signatureBytes: bytes };
    }
    case 'RS256':
      return { hash: 'sha256', input: { key, padding: constants.RSA_PKCS1_PADDING }, signatureBytes: undefined };
    case 'EdDSA':
      return { hash: null, input: key, signatureBytes: undefined };
  }
}

/** Whether `signature` (the raw JWS signature octets) signs `signingInput` (ASCII protected.payload). */
export function verifyJwsSignature(k: JwsKey, signingInput: Buffer, signature: Buffer): boolean {
  const { hash, input, signatureBytes } = k.verifyWith;
  if (signatureBytes !== undefined && signature.length !== signatureBytes) return false;
  try {
    return verify(hash, signingInput, input, signature);
  } catch {
    // A signature OpenSSL cannot even parse is a signature that does not verify.
    return false;
  }
}
