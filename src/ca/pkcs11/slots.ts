import { pkcs11Failure, Pkcs11Error } from './errors.js';
import { pkcs11js, type Pkcs11Library } from './module.js';

type Handle = Buffer;

/** A token as `ca check` lists it; the label and serial are what ca.pkcs11.token names. */
export interface Pkcs11TokenSummary {
  readonly label: string;
  readonly serial: string;
  readonly model: string;
  readonly manufacturer: string;
}

/** Initialised tokens present in the module's slots; slots whose token cannot be read (a deleted one) are left out. */
export function tokensPresent(lib: Pkcs11Library, modulePath: string): { slot: Handle; token: Pkcs11TokenSummary }[] {
  let slots: Handle[];
  try {
    slots = lib.C_GetSlotList(true);
  } catch (e) {
    throw pkcs11Failure(`listing the slots of module ${modulePath}`, e);
  }
  const tokens: { slot: Handle; token: Pkcs11TokenSummary }[] = [];
  for (const slot of slots) {
    try {
      const info = lib.C_GetTokenInfo(slot);
      // SoftHSM always offers one empty token to initialise; it holds nothing certmint could use.
      if ((info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0) continue;
      // Token fields are fixed-width and padded with spaces.
      tokens.push({
        slot,
        token: {
          label: info.label.trim(),
          serial: info.serialNumber.trim(),
          model: info.model.trim(),
          manufacturer: info.manufacturerID.trim(),
        },
      });
    } catch {
      // a slot whose token went away; it is simply not present
    }
  }
  return tokens;
}

/**
 * The slot holding the token named by ca.pkcs11.token: its label, or `serial:<n>`. Never a
 * slot number: those change when tokens are added or re-created (SoftHSM renumbers them).
 */
export function findSlot(lib: Pkcs11Library, token: string, modulePath: string): Handle {
  const present = tokensPresent(lib, modulePath);
  const serial = token.startsWith('serial:') ? token.slice('serial:'.length) : undefined;
  const matches = present.filter((t) => (serial !== undefined ? t.token.serial === serial : t.token.label === token));
  const [first, second] = matches;
  if (first !== undefined && second === undefined) return first.slot;
  const listed =
    present.length === 0
      ? 'no token is present'
      : `tokens present: ${present.map((t) => `${JSON.stringify(t.token.label)} (serial ${t.token.serial}, model ${t.token.model})`).join(', ')}`;
  if (first === undefined) {
    throw new Pkcs11Error(`PKCS#11 token ${JSON.stringify(token)} (ca.pkcs11.token) not found in module ${modulePath}: ${listed}`, 'CKR_TOKEN_NOT_PRESENT');
  }
  throw new Pkcs11Error(`PKCS#11 token ${JSON.stringify(token)} (ca.pkcs11.token) matches ${matches.length} tokens in module ${modulePath}; name it by serial:<n> instead: ${listed}`, undefined);
}
