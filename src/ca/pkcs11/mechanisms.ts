import type { CaKeyAlgorithm } from '../types.js';
import { Pkcs11Error, pkcs11Failure } from './errors.js';
import { pkcs11js, type Pkcs11Library } from './module.js';

/** How certmint signs with a token key: ECDSA hashes in Node then CKM_ECDSA; RSA is CKM_SHA256_RSA_PKCS. */
export function mechanismFor(algorithm: CaKeyAlgorithm): { mechanism: number; name: string; hash: 'sha256' | 'sha384' | undefined } {
  switch (algorithm) {
    case 'ecdsa-p256':
      return { mechanism: pkcs11js.CKM_ECDSA, name: 'CKM_ECDSA', hash: 'sha256' };
    case 'ecdsa-p384':
      return { mechanism: pkcs11js.CKM_ECDSA, name: 'CKM_ECDSA', hash: 'sha384' };
    default:
      return { mechanism: pkcs11js.CKM_SHA256_RSA_PKCS, name: 'CKM_SHA256_RSA_PKCS', hash: undefined };
  }
}

/** Refuses, naming the mechanism, when the token's mechanism list lacks what `algorithm` signs with. */
export function requireMechanisms(lib: Pkcs11Library, slot: Buffer, algorithm: CaKeyAlgorithm, tokenName: string): void {
  let mechanisms: number[];
  try {
    mechanisms = lib.C_GetMechanismList(slot);
  } catch (e) {
    throw pkcs11Failure(`reading the mechanism list of ${tokenName}`, e);
  }
  const { mechanism, name } = mechanismFor(algorithm);
  if (!mechanisms.includes(mechanism)) {
    throw new Pkcs11Error(
      `PKCS#11 ${tokenName} cannot sign ${algorithm}: its mechanism list lacks ${name} (CKR_MECHANISM_INVALID: the token does not support this mechanism; its list: pkcs11-tool -M)`,
      'CKR_MECHANISM_INVALID',
    );
  }
}
