import { inspect } from 'node:util';
import { CaError } from './ca-file-io.js';
import { readPrivateFileSync } from './private-file.js';

/** The environment variable that holds the passphrase itself (the file setting wins when both are set). */
export const KEY_PASSPHRASE_ENV = 'CERTMINT_CA_KEY_PASSPHRASE';
/** How an operator configures the passphrase, for error messages. */
export const KEY_PASSPHRASE_SETTINGS = `ca.keyPassphraseFile (env CERTMINT_CA_KEY_PASSPHRASE_FILE) or ${KEY_PASSPHRASE_ENV}`;

/**
 * The passphrase that encrypts the CA's private key files. It never prints: String(), JSON and
 * util.inspect (so pino and console too) show a placeholder, so an options object that carries it
 * can be logged or thrown without leaking it.
 */
export class KeyPassphrase {
  readonly #bytes: Buffer;

  /** @param source where it came from, for error messages ("the file /run/secrets/ca-pass", "CERTMINT_CA_KEY_PASSPHRASE"). */
  constructor(
    bytes: Buffer,
    readonly source: string,
  ) {
    if (bytes.length === 0) throw new CaError(`the CA key passphrase from ${source} is empty`);
    this.#bytes = Buffer.from(bytes);
  }

  /** The passphrase for node:crypto; callers pass it on and never keep or print it. */
  bytes(): Buffer {
    return this.#bytes;
  }

  toString(): string {
    return '[CA key passphrase]';
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * The configured passphrase: the file `file` (ca.keyPassphraseFile; a Docker or Kubernetes
 * secret, so one trailing newline is dropped) or else CERTMINT_CA_KEY_PASSPHRASE; undefined when
 * neither is set (an empty variable counts as unset: compose writes one for a missing value).
 * The file must be private like the keys it unlocks.
 */
export function configuredKeyPassphrase(file: string | undefined, env: NodeJS.ProcessEnv): KeyPassphrase | undefined {
  if (file) {
    const bytes = readPrivateFileSync(file, `the CA key passphrase file ${file} (ca.keyPassphraseFile)`);
    let end = bytes.length;
    if (bytes[end - 1] === 0x0a) end -= 1;
    if (bytes[end - 1] === 0x0d) end -= 1;
    const passphrase = new KeyPassphrase(bytes.subarray(0, end), `the file ${file} (ca.keyPassphraseFile)`);
    bytes.fill(0);
    return passphrase;
  }
  const value = env[KEY_PASSPHRASE_ENV];
  if (value === undefined || value === '') return undefined;
  return new KeyPassphrase(Buffer.from(value, 'utf8'), KEY_PASSPHRASE_ENV);
}
