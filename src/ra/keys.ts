import { canonicalSpkiOfJwk, keyHashOfSpki } from '../core/canonical-key.js';
import { AcmeProblem } from '../core/problem.js';

export { keyHashOfSpki };

/**
 * The canonical DER SubjectPublicKeyInfo of a public JWK (an account key, or a certificate key in
 * a JWS): the same bytes the CSR path produces for the same key (core/canonical-key.ts), so hashes
 * and comparisons see one key whatever its spelling. The JWK was imported (and so checked) by acme/.
 */
export function spkiOfJwk(jwk: Readonly<Record<string, unknown>>): Buffer {
  return canonicalSpkiOfJwk(jwk);
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
