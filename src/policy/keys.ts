import type { PublicKeyInfo } from '../core/public-key.js';

/**
 * Which subject keys certmint certifies (CA/Browser Forum baseline, as Boulder and step-ca):
 * RSA 2048–8192 bits with exponent 65537, ECDSA P-256/P-384, Ed25519. Returns why a key is refused, or undefined.
 */
export function subjectKeyProblem(key: PublicKeyInfo): string | undefined {
  switch (key.kind) {
    case 'rsa':
      if (key.bits < 2048) return `RSA key of ${key.bits} bits is too small (at least 2048)`;
      if (key.bits > 8192) return `RSA key of ${key.bits} bits is too large (at most 8192)`;
      // As Boulder's goodkey: other exponents (3 above all) have a history of signature forgeries.
      if (key.exponent !== 65537n) return `RSA public exponent ${key.exponent} is not accepted (use 65537)`;
      return undefined;
    case 'ec':
      return key.curve === 'P-256' || key.curve === 'P-384'
        ? undefined
        : `ECDSA curve ${key.curve} is not accepted (use P-256 or P-384)`;
    case 'ed25519':
      return undefined;
    default:
      return `key type ${key.oid} is not accepted (use RSA >= 2048, ECDSA P-256/P-384 or Ed25519)`;
  }
}
