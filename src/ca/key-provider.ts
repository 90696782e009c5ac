import type * as x509 from '@peculiar/x509';
import type { CaSigningKey } from './ca-key.js';
import { CaError, type NewCaFile } from './ca-file-io.js';
import type { CaKeyAlgorithm } from './types.js';

/**
 * Which CA key: a root or an intermediate, each numbered by its generation (1 is the one `ca init`
 * made), or the intermediate key `certmint ca csr` makes for an external CA to certify (generation 1).
 */
export type CaKeyRole = 'root' | 'intermediate' | 'pending-intermediate';

/** A key just created, and what must be written with its certificate (none when the key lives on a token). */
export interface NewCaKey {
  readonly key: CaSigningKey;
  /**
   * Files to write in the same writeNewCaFiles call as the certificate, so that a failure leaves
   * neither (the file provider's PKCS#8 file; nothing for a token key).
   */
  readonly files: readonly NewCaFile[];
}

/**
 * Whether every key the CA holds can sign now; /ready reports the reason while one cannot, and
 * revocation answers 503 with Retry-After rather than commit one whose CRL cannot be signed.
 */
export type CaKeyState =
  | { readonly ready: true }
  | { readonly ready: false; readonly reason: string; readonly retryAfterSeconds: number };

/**
 * Where the CA's keys live (ca.keyProvider): `file` (file-key-provider.ts) or a token. ca-files.ts
 * asks it for the key of each (role, generation) it loads or creates, and proves each loaded key
 * against its certificate itself, so a provider only finds, creates and signs.
 */
export interface CaKeyProvider {
  /** The key of an existing certificate; rejects with CaError naming where it looked. */
  load(role: CaKeyRole, generation: number, certificate: x509.X509Certificate): Promise<CaSigningKey>;
  /** A new key for the certificate about to be made; rejects with CaError if that key exists already. */
  create(role: CaKeyRole, generation: number, algorithm: CaKeyAlgorithm): Promise<NewCaKey>;
  /** Absent: always ready (a file key never goes away while the process runs). */
  keyState?(): CaKeyState;
  /**
   * Whether the key of `role` is a file in the CA directory (root.key.pem, intermediate.key.pem),
   * which a complete CA then has. Absent: true. A token provider answers false for the keys it
   * holds, so that a CA whose keys are on the token is complete with its certificates alone.
   */
  keyIsFile?(role: CaKeyRole): boolean;
}

/** The provider holds no key for that (role, generation): not found, as opposed to found but unusable. */
export class CaKeyNotFoundError extends CaError {}
