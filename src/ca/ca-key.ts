import { CaError } from './ca-file-io.js';
import type { CaKeySpec } from './ca-keys.js';

/**
 * A CA private key wherever it lives: a PKCS#8 file imported into WebCrypto (ca.keyProvider:
 * file) or an object on a PKCS#11 token (ca.keyProvider: pkcs11). Leaves, CRLs, intermediates
 * and cross certificates are all signed through this and nothing else, so the rest of ca/ never
 * knows which.
 */
export interface CaSigningKey {
  /** The key's algorithm; it fixes the signature algorithm (caKeySpec). */
  readonly spec: CaKeySpec;
  /** DER SubjectPublicKeyInfo of the public half. */
  readonly spki: Uint8Array;
  /**
   * Where the key lives, for messages and `ca status`: "file /var/lib/certmint/ca/intermediate.key.pem",
   * "pkcs11:token=certmint;object=certmint-intermediate". Never a PIN or passphrase.
   */
  readonly description: string;
  /**
   * Signs `data` as spec.signing says, hashing included: ECDSA yields r‖s (IEEE P1363, the form
   * WebCrypto gives; ecdsaSignatureToDer makes the X.509 form), RSA a PKCS#1 v1.5 signature.
   * Never blocks the event loop. Rejects with CaKeyUnavailableError while the key's device cannot
   * sign (a token removed, a session lost): a condition that passes, which callers answer with 503.
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * The key exists but cannot sign right now (its token is gone or being reconnected). Callers turn
 * it into 503 serverInternal with Retry-After and change nothing; it is never a reason to crash.
 */
export class CaKeyUnavailableError extends CaError {
  constructor(
    message: string,
    /** Seconds after which a retry has a chance (the reconnect backoff's next attempt). */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
