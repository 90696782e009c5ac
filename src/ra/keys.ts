import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { AcmeProblem } from '../core/problem.js';

/** The DER SubjectPublicKeyInfo of a public JWK (an account key, or a certificate key in a JWS). */
export function spkiOfJwk(jwk: Readonly<Record<string, unknown>>): Buffer {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'der' });
}

/** SHA-256 of an SPKI, hex: certificates.key_hash and blocked_keys.key_hash. */
export function keyHashOfSpki(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

/** Refuses an account key that was reported compromised (revoked for keyCompromise by its own key). */
export async function refuseBlockedAccountKey(
  ledger: { isKeyBlocked(keyHash: string): Promise<boolean> },
  jwk: Readonly<Record<string, unknown>>,
): Promise<void> {
  if (await ledger.isKeyBlocked(keyHashOfSpki(spkiOfJwk(jwk)))) {
    throw new AcmeProblem('badPublicKey', 'this key was reported compromised (a certificate for it was revoked for keyCompromise); use a new key');
  }
}
