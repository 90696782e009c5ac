import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CaError, writeNewCaFiles } from './ca-file-io.js';
import { readPrivateFile } from './private-file.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_FILE = 'secrets.key';

/**
 * Seals secrets the ledger must keep but must not be able to reveal on its own (EAB HMAC keys):
 * AES-256-GCM under a key file beside the CA keys (mode 0600), so a copy of the ledger without
 * the CA directory is not enough to use them. Sealed form: nonce (12) || ciphertext || tag (16).
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** The box of the CA directory `dir`, its key created (atomically, 0600) on first use. */
  static async open(dir: string): Promise<SecretBox> {
    const file = join(dir, KEY_FILE);
    const existing = await readKey(file);
    if (existing) return new SecretBox(existing);
    try {
      await writeNewCaFiles(dir, [{ path: file, contents: `${randomBytes(32).toString('base64')}\n`, mode: 0o600 }]);
    } catch (e) {
      // Another process created it first: use theirs.
      if (!(e instanceof CaError && /exists/.test(e.message))) throw e;
    }
    const created = await readKey(file);
    if (!created) throw new CaError(`cannot read the secrets key ${file} just written`);
    return new SecretBox(created);
  }

  /** @param aad what the secret belongs to (e.g. the EAB key id): a sealed value moved to another row does not open. */
  seal(plain: Uint8Array, aad: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce).setAAD(Buffer.from(aad));
    return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }

  /** @throws Error when the sealed value was not made by this key for this aad. */
  open(sealed: Uint8Array, aad: string): Buffer {
    const buf = Buffer.from(sealed);
    const decipher = createDecipheriv('aes-256-gcm', this.key, buf.subarray(0, NONCE_BYTES)).setAAD(Buffer.from(aad));
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    return Buffer.concat([decipher.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
  }
}

async function readKey(file: string): Promise<Buffer | undefined> {
  // Private like the CA keys: whoever reads it can open every EAB HMAC key in the ledger.
  const bytes = await readPrivateFile(file, `the secrets key ${file}`);
  if (bytes === undefined) return undefined;
  const key = Buffer.from(bytes.toString('utf8').trim(), 'base64');
  bytes.fill(0);
  if (key.length !== 32) throw new CaError(`the secrets key ${file} should hold 32 bytes in base64, found ${key.length}`);
  return key;
}
