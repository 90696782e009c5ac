import { AcmeProblem } from '../core/problem.js';
import { randomId } from '../core/ids.js';
import type { AccountRecord, EabKeyRecord } from '../ledger/records.js';
import { verifyExternalAccountBinding } from './eab.js';
import { refuseBlockedAccountKey } from './keys.js';
import type { RaDeps } from './deps.js';
import { deactivateAccount } from './account-lifecycle.js';
import { takeNewAccountSlot } from './rate-limits.js';

const MAX_CONTACTS = 10;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets, so 254 for the address. */
export const MAX_CONTACT_ADDRESS_LENGTH = 254;

/** RFC 8555 §7.3: only mailto: contacts, one address each, no hfields. */
export function checkContacts(input: unknown): string[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new AcmeProblem('malformed', '"contact" must be an array of URLs');
  if (input.length > MAX_CONTACTS) throw new AcmeProblem('invalidContact', `at most ${MAX_CONTACTS} contacts`);
  return input.map((c: unknown) => {
    if (typeof c !== 'string') throw new AcmeProblem('malformed', 'each contact must be a string URL');
    if (!c.startsWith('mailto:')) {
      throw new AcmeProblem('unsupportedContact', `contact "${c.slice(0, 100)}" is not supported; use a mailto: URL`);
    }
    const address = c.slice('mailto:'.length);
    // Checked first, so nothing below ever sees more than 254 characters.
    if (address.length > MAX_CONTACT_ADDRESS_LENGTH) {
      throw new AcmeProblem(
        'invalidContact',
        `contact "${c.slice(0, 40)}…" has an address of ${address.length} characters; an email address has at most ${MAX_CONTACT_ADDRESS_LENGTH} (RFC 5321 §4.5.3.1.3)`,
      );
    }
    if (!isSingleEmailAddress(address)) {
      throw new AcmeProblem('invalidContact', `contact "${c.slice(0, 100)}" is not a single valid email address`);
    }
    return c;
  });
}

/**
 * "local@domain.tld": one "@" with something before it, a domain with a dot neither first nor
 * last, no whitespace, "?" (hfields) or "," (several addresses). One pass over the text: the
 * regular expression this replaces, /^[^@\s]+@[^@\s]+\.[^@\s]+$/, backtracked quadratically
 * on "a@" followed by many dots and a space (30,000 dots: over a second).
 */
function isSingleEmailAddress(address: string): boolean {
  let at = -1;
  for (let i = 0; i < address.length; i++) {
    const ch = address[i]!;
    if (ch === '?' || ch === ',' || /\s/.test(ch)) return false;
    if (ch === '@') {
      if (at !== -1) return false;
      at = i;
    }
  }
  if (at <= 0) return false;
  const dot = address.indexOf('.', at + 2);
  return dot !== -1 && dot < address.length - 1;
}

export interface NewAccountRequest {
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly thumbprint: string;
  readonly payload: Readonly<Record<string, unknown>>;
  /** The newAccount URL the request was signed for (an external account binding must name it). */
  readonly url: string;
  /** The client's address, for limits.newAccountsPerIpPerHour. */
  readonly clientAddress?: string;
}

/** RFC 8555 §7.3 newAccount: creates, or returns the account already registered with this key. */
export async function newAccount(
  deps: RaDeps,
  req: NewAccountRequest,
): Promise<{ account: AccountRecord; created: boolean }> {
  const p = req.payload;
  const existing = await deps.ledger.getAccountByThumbprint(req.thumbprint);
  if (existing) {
    // RFC 8555 §7.3.1: the existing account is returned whatever else the request says.
    if (existing.status !== 'valid') {
      throw new AcmeProblem('unauthorized', `the account for this key is ${existing.status}`);
    }
    return { account: existing, created: false };
  }
  if (p.onlyReturnExisting === true) {
    throw new AcmeProblem('accountDoesNotExist', 'no account exists for this key (onlyReturnExisting was set)');
  }
  if (p.termsOfServiceAgreed !== undefined && typeof p.termsOfServiceAgreed !== 'boolean') {
    throw new AcmeProblem('malformed', '"termsOfServiceAgreed" must be a boolean');
  }
  if (deps.policy.termsOfServiceRequired && p.termsOfServiceAgreed !== true) {
    throw new AcmeProblem('userActionRequired', 'you must agree to the terms of service (termsOfServiceAgreed: true)');
  }
  const contact = checkContacts(p.contact);
  await refuseBlockedAccountKey(deps.ledger, req.jwk);
  // RFC 8555 §7.3.4. Checked even where not required, so a key's policy always follows it.
  let binding: EabKeyRecord | undefined;
  if (p.externalAccountBinding !== undefined) {
    binding = await verifyExternalAccountBinding(deps, p.externalAccountBinding, { thumbprint: req.thumbprint, url: req.url });
  } else if (deps.policy.eabRequired) {
    throw new AcmeProblem(
      'externalAccountRequired',
      'this server requires an external account binding: ask your CA operator for a key id and HMAC key (certmint eab create)',
    );
  }
  if (req.clientAddress !== undefined) await takeNewAccountSlot(deps, req.clientAddress);
  return deps.ledger.createAccount({
    id: randomId(),
    keyThumbprint: req.thumbprint,
    jwk: req.jwk,
    contact,
    termsOfServiceAgreed: p.termsOfServiceAgreed === true,
    createdAt: deps.clock.now(),
    ...(binding ? { eabKid: binding.kid, ...(binding.policy !== undefined ? { policy: binding.policy } : {}) } : {}),
  });
}

/** RFC 8555 §7.3.2 (contact update) and §7.3.6 (deactivation); an empty payload just reads it. */
export async function updateAccount(
  deps: RaDeps,
  account: AccountRecord,
  payload: Readonly<Record<string, unknown>> | undefined,
): Promise<AccountRecord> {
  if (!payload) return account;
  const changes: { contact?: string[]; status?: 'deactivated' } = {};
  if (payload.contact !== undefined) changes.contact = checkContacts(payload.contact);
  if (payload.status !== undefined) {
    if (payload.status !== 'deactivated') {
      throw new AcmeProblem('malformed', 'an account "status" can only be changed to "deactivated"');
    }
    changes.status = 'deactivated';
  }
  if (changes.contact === undefined && changes.status === undefined) return account;
  if (changes.status === 'deactivated') {
    return (await deactivateAccount(deps, account.id, { kind: 'account' }, changes.contact)).account;
  }
  return deps.ledger.updateAccount(account.id, changes, deps.clock.now());
}
