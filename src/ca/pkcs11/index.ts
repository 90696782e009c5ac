export { openPkcs11Token, type Pkcs11TokenTuning } from './token.js';
export { listPkcs11Tokens } from './list-tokens.js';
export { CKR_MEANINGS, Pkcs11Error } from './errors.js';
export { parsePkcs11Uri } from './uri.js';
export type { Pkcs11TokenSummary } from './slots.js';
export type { Pkcs11Token, Pkcs11TokenOptions, Pkcs11TokenState } from './token-api.js';
export { readPkcs11PinFile } from './pin-file.js';
