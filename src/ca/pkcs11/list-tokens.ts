import { Pkcs11Module } from './module.js';
import { tokensPresent, type Pkcs11TokenSummary } from './slots.js';

/** Loads the module (a Pkcs11Error says why it cannot be) and lists the tokens present: `ca check`'s first steps. */
export async function listPkcs11Tokens(modulePath: string): Promise<Pkcs11TokenSummary[]> {
  const module = Pkcs11Module.acquire(modulePath);
  try {
    return tokensPresent(module.lib, modulePath).map((t) => t.token);
  } finally {
    await module.release();
  }
}
