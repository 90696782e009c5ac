import { CaError } from '../ca-file-io.js';

/**
 * A PKCS#11 step that failed, in one line: the step, the return code's name and what it usually
 * means (`PKCS#11 login to token "certmint" failed: CKR_PIN_INCORRECT (the PIN in
 * ca.pkcs11.pinFile is wrong)`). step-ca users get "CKR_FUNCTION_FAILED" and nothing else
 * (smallstep/certificates #2409); the meaning is what tells an operator where to look.
 */
export class Pkcs11Error extends CaError {
  constructor(
    message: string,
    /** The CKR_* name when the module answered one. */
    readonly ckr: string | undefined,
  ) {
    super(message);
  }
}

/** What each return code usually means for an operator, in a few words. */
export const CKR_MEANINGS: Readonly<Record<string, string>> = {
  CKR_PIN_INCORRECT: 'the PIN in ca.pkcs11.pinFile is wrong',
  CKR_PIN_LOCKED: 'the user PIN is locked after too many wrong tries; unlock it with the SO PIN',
  CKR_PIN_EXPIRED: 'the user PIN has expired; set a new one with the vendor tool',
  CKR_PIN_LEN_RANGE: 'the PIN in ca.pkcs11.pinFile is too short or too long for this token',
  CKR_PIN_INVALID: 'the PIN in ca.pkcs11.pinFile has characters the token does not accept',
  CKR_USER_PIN_NOT_INITIALIZED: 'the token has no user PIN yet; initialise it with the vendor tool',
  CKR_USER_TYPE_INVALID: 'the module refused the user type: a certmint bug or an unusual module',
  CKR_USER_NOT_LOGGED_IN: 'the session is not logged in: the login was lost',
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: 'the security officer is logged in to this token',
  CKR_TOKEN_NOT_PRESENT: 'the token is not in its slot: removed, or the HSM is unreachable',
  CKR_TOKEN_NOT_RECOGNIZED: 'the module does not recognise the token in the slot',
  CKR_TOKEN_WRITE_PROTECTED: 'the token is read-only, so keys cannot be created on it',
  CKR_DEVICE_REMOVED: 'the token was removed during the operation',
  CKR_DEVICE_ERROR: 'the token or HSM reported a device error: hardware, network or firmware',
  CKR_DEVICE_MEMORY: 'the token has no room left for new objects',
  CKR_SESSION_HANDLE_INVALID: 'the session no longer exists: token removed or module reset',
  CKR_SESSION_CLOSED: 'the session was closed during the operation',
  CKR_SESSION_COUNT: 'the token allows no more open sessions',
  CKR_SESSION_READ_ONLY: 'the session is read-only',
  CKR_OBJECT_HANDLE_INVALID: 'the key object is gone: the token was deleted, replaced or reset',
  CKR_KEY_HANDLE_INVALID: 'the key handle is not valid: the key was deleted or the token reset',
  CKR_KEY_TYPE_INCONSISTENT: 'the key type does not fit the mechanism: an EC key used for RSA or the reverse',
  CKR_KEY_FUNCTION_NOT_PERMITTED: 'the key is not allowed to sign: its CKA_SIGN is false',
  CKR_KEY_SIZE_RANGE: 'the token does not support this key size',
  CKR_MECHANISM_INVALID: 'the token does not support this mechanism; its list: pkcs11-tool -M',
  CKR_MECHANISM_PARAM_INVALID: 'the token refused the mechanism parameters',
  CKR_DOMAIN_PARAMS_INVALID: 'the token does not support this curve',
  CKR_TEMPLATE_INCONSISTENT: 'the token refused the key attributes certmint asked for',
  CKR_TEMPLATE_INCOMPLETE: 'the token needs key attributes certmint did not give',
  CKR_ATTRIBUTE_TYPE_INVALID: 'the token does not know an attribute certmint asked for',
  CKR_ATTRIBUTE_VALUE_INVALID: 'the token refused an attribute value',
  CKR_ATTRIBUTE_SENSITIVE: 'the attribute is secret and cannot be read, as intended for private keys',
  CKR_DATA_LEN_RANGE: 'the data to sign has a length the mechanism does not accept',
  CKR_OPERATION_ACTIVE: 'another operation is running on this session; a certmint bug, please report it',
  CKR_OPERATION_NOT_INITIALIZED: 'no operation was started on this session; a certmint bug, please report it',
  CKR_CRYPTOKI_NOT_INITIALIZED: 'the module is not initialised: it was reset',
  CKR_CRYPTOKI_ALREADY_INITIALIZED: 'something else in this process already initialised the module',
  CKR_CANT_LOCK: 'the module cannot use the operating system locking certmint needs',
  CKR_SLOT_ID_INVALID: 'the slot is gone: token removed or module reset',
  CKR_HOST_MEMORY: 'the module ran out of memory',
  CKR_FUNCTION_FAILED: 'the token could not do it; its own log or the HSM audit log says why',
  CKR_GENERAL_ERROR: 'the module failed without saying why; with SoftHSM, the token was deleted',
  CKR_FUNCTION_NOT_SUPPORTED: 'the module does not implement this function',
  CKR_ARGUMENTS_BAD: 'the module refused the arguments; a certmint bug, please report it',
  CKR_BUFFER_TOO_SMALL: 'the answer did not fit; a certmint bug, please report it',
  CKR_LIBRARY_LOAD_FAILED: 'the module could not load one of its own libraries',
};

/** Return codes that mean the token went away; the token reconnects instead of failing for good. */
export const TOKEN_LOST_CODES: ReadonlySet<string> = new Set([
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_DEVICE_ERROR',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_GENERAL_ERROR',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_SLOT_ID_INVALID',
  'CKR_USER_NOT_LOGGED_IN',
]);

/** The CKR_* name pkcs11js put in an error, if any. */
export function ckrNameOf(e: unknown): string | undefined {
  const message = e instanceof Error ? e.message : String(e);
  return /\b(CKR_[A-Z0-9_]+)\b/.exec(message)?.[1];
}

/** "CKR_PIN_INCORRECT (the PIN in ca.pkcs11.pinFile is wrong)", or the native message when there is no CKR name. */
export function describePkcs11Failure(e: unknown): string {
  const ckr = ckrNameOf(e);
  if (ckr === undefined) return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
  const meaning = CKR_MEANINGS[ckr];
  return meaning === undefined ? ckr : `${ckr} (${meaning})`;
}

/** `PKCS#11 <step> failed: <CKR name> (<meaning>)` as a Pkcs11Error; a Pkcs11Error passes through. */
export function pkcs11Failure(step: string, e: unknown): Pkcs11Error {
  if (e instanceof Pkcs11Error) return e;
  return new Pkcs11Error(`PKCS#11 ${step} failed: ${describePkcs11Failure(e)}`, ckrNameOf(e));
}

export function isTokenLost(e: unknown): boolean {
  const ckr = e instanceof Pkcs11Error ? e.ckr : ckrNameOf(e);
  return ckr !== undefined && TOKEN_LOST_CODES.has(ckr);
}
