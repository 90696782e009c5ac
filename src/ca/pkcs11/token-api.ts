import type { CaSigningKey } from '../ca-key.js';
import type { CaKeyAlgorithm } from '../types.js';

/**
 * What the rest of ca/ asks of a PKCS#11 token (ca.keyProvider: pkcs11). src/ca/pkcs11/ is the
 * only code that loads a vendor module; its entry point is
 * `openPkcs11Token(options: Pkcs11TokenOptions): Promise<Pkcs11Token>`, which rejects with a
 * Pkcs11Error (one line: the step, the PKCS#11 return code name and what it usually means) when
 * the module cannot be loaded, the token is not found or the PIN is refused.
 */
export interface Pkcs11TokenOptions {
  /** Absolute path of the vendor's PKCS#11 library (ca.pkcs11.module). */
  readonly module: string;
  /** Token label, or "serial:<n>" for its serial number (ca.pkcs11.token); never a slot number. */
  readonly token: string;
  /** The user PIN, already read from ca.pkcs11.pinFile; never logged, never put in an error. */
  readonly pin: string;
  /** One warn line per token-state change (lost, reconnected); never a stack, never the PIN. */
  readonly warn?: (message: string) => void;
}

export type Pkcs11TokenState =
  | { readonly state: 'ready' }
  | { readonly state: 'lost'; readonly reason: string; readonly retryAfterSeconds: number };

export interface Pkcs11Token {
  /**
   * The one private key the RFC 7512 URI (`pkcs11:object=<label>` and/or `id=<%-encoded bytes>`)
   * finds on the token, with its public half; undefined when none matches. Rejects with a
   * Pkcs11Error listing what was found when more than one private key matches.
   */
  findKey(uri: string): Promise<CaSigningKey | undefined>;
  /**
   * Generates a key pair on the token under the URI's label and id: token objects, the private
   * key sensitive and never extractable. Rejects if the URI already finds a key.
   */
  generateKey(uri: string, algorithm: CaKeyAlgorithm): Promise<CaSigningKey>;
  /** Rejects with a Pkcs11Error naming the missing mechanism when the token cannot sign `algorithm`. */
  requireMechanisms(algorithm: CaKeyAlgorithm): Promise<void>;
  /** Ready, or lost while it reconnects with backoff (keys then reject with CaKeyUnavailableError). */
  state(): Pkcs11TokenState;
  /**
   * Asks the token for its info (C_GetTokenInfo) and answers state() after: a token that went
   * away while nothing signed is found lost here (for /ready), and starts reconnecting.
   * Added by the token side (issue 23); rejects only with a Pkcs11Error for an unexpected code.
   */
  probe(): Promise<Pkcs11TokenState>;
  /** Called on every change of state(); returns the function that stops it. */
  onStateChange(listener: (state: Pkcs11TokenState) => void): () => void;
  /** Waits for signatures in flight, then closes sessions; finalizes the module when no token is open. */
  close(): Promise<void>;
}
