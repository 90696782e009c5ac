import { describe, expect, it } from 'vitest';
import { CKR_MEANINGS, describePkcs11Failure, isTokenLost, pkcs11Failure, TOKEN_LOST_CODES } from './errors.js';

describe('PKCS#11 return codes', () => {
  it('gives every code certmint reacts to a meaning that fits in the one-line message', () => {
    for (const code of [...TOKEN_LOST_CODES, 'CKR_PIN_INCORRECT', 'CKR_PIN_LOCKED', 'CKR_MECHANISM_INVALID', 'CKR_FUNCTION_FAILED']) {
      expect(CKR_MEANINGS[code], code).toBeDefined();
    }
    for (const [code, meaning] of Object.entries(CKR_MEANINGS)) {
      expect(meaning, code).not.toMatch(/[()\n]/);
    }
  });

  it('reads the code out of a binding error and says step, code and meaning in one line', () => {
    // pkcs11js puts the name and number first, then a native stack on later lines.
    const native = new Error('CKR_PIN_LOCKED:164\n    at PKCS11.C_Login (index.js:77:22)');
    expect(describePkcs11Failure(native)).toBe('CKR_PIN_LOCKED (the user PIN is locked after too many wrong tries; unlock it with the SO PIN)');
    const error = pkcs11Failure('login to token "certmint"', native);
    expect(error.message).toBe('PKCS#11 login to token "certmint" failed: CKR_PIN_LOCKED (the user PIN is locked after too many wrong tries; unlock it with the SO PIN)');
    expect(error.ckr).toBe('CKR_PIN_LOCKED');
    expect(isTokenLost(error)).toBe(false);
    expect(isTokenLost(new Error('CKR_DEVICE_REMOVED:50'))).toBe(true);
    expect(describePkcs11Failure(new Error('CKR_VENDOR_DEFINED:2147483648'))).toBe('CKR_VENDOR_DEFINED');
    expect(describePkcs11Failure(new Error('dlopen failed\nmore'))).toBe('dlopen failed');
  });
});
