import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { CaKeyAlgorithm } from '../types.js';
import { Pkcs11Error } from './errors.js';

/** DER of the named-curve OIDs in CKA_EC_PARAMS, and each curve's coordinate size. */
const CURVES = [
  { algorithm: 'ecdsa-p256', params: '06082a8648ce3d030107', crv: 'P-256', size: 32 },
  { algorithm: 'ecdsa-p384', params: '06052b81040022', crv: 'P-384', size: 48 },
] as const;

export function ecParamsOf(algorithm: 'ecdsa-p256' | 'ecdsa-p384'): Buffer {
  const curve = CURVES.find((c) => c.algorithm === algorithm);
  return Buffer.from(curve?.params ?? '', 'hex');
}

/**
 * The SPKI of an EC public key from CKA_EC_PARAMS and CKA_EC_POINT. PKCS#11 says the point is
 * a DER OCTET STRING holding the uncompressed point, and SoftHSM does so; some modules give the
 * bare point, so both are accepted.
 */
export function ecSpki(params: Buffer, point: Buffer, what: string): { algorithm: CaKeyAlgorithm; spki: Uint8Array } {
  const curve = CURVES.find((c) => c.params === params.toString('hex'));
  if (curve === undefined) {
    throw new Pkcs11Error(`${what} is an EC key on a curve certmint does not use (EC params ${params.toString('hex')}); use P-256 or P-384`, undefined);
  }
  const raw = unwrapPoint(point, curve.size);
  if (raw === undefined) throw new Pkcs11Error(`${what} has a CKA_EC_POINT certmint cannot read (not an uncompressed ${curve.crv} point)`, undefined);
  const jwk: JsonWebKey = {
    kty: 'EC',
    crv: curve.crv,
    x: raw.subarray(1, 1 + curve.size).toString('base64url'),
    y: raw.subarray(1 + curve.size).toString('base64url'),
  };
  return { algorithm: curve.algorithm, spki: spkiOfJwk(jwk, what) };
}

export function rsaSpki(modulus: Buffer, exponent: Buffer, what: string): { algorithm: CaKeyAlgorithm; spki: Uint8Array } {
  const start = modulus.findIndex((b) => b !== 0);
  const n = start < 0 ? Buffer.alloc(0) : modulus.subarray(start);
  const bits = n.length * 8 - Math.clz32(n[0] ?? 0) + 24;
  const algorithm = `rsa-${bits}`;
  if (algorithm !== 'rsa-2048' && algorithm !== 'rsa-3072' && algorithm !== 'rsa-4096') {
    throw new Pkcs11Error(`${what} is a ${bits}-bit RSA key; certmint's CA keys are RSA 2048, 3072 or 4096`, undefined);
  }
  const jwk: JsonWebKey = { kty: 'RSA', n: n.toString('base64url'), e: exponent.toString('base64url') };
  return { algorithm, spki: spkiOfJwk(jwk, what) };
}

function unwrapPoint(point: Buffer, size: number): Buffer | undefined {
  const length = 1 + 2 * size;
  if (point.length === length && point[0] === 0x04) return point;
  // DER OCTET STRING: 04 <len> <point>, the length in short form (65, 97) or 81 <len>.
  if (point[0] !== 0x04) return undefined;
  const inner = point[1] === 0x81 ? point.subarray(3) : point.subarray(2);
  return inner.length === length && inner[0] === 0x04 ? inner : undefined;
}

function spkiOfJwk(jwk: JsonWebKey, what: string): Uint8Array {
  try {
    return new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' }));
  } catch (e) {
    throw new Pkcs11Error(`${what} has a public key certmint cannot read: ${e instanceof Error ? e.message : String(e)}`, undefined);
  }
}
