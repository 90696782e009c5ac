import { normalizeIssuerDomainName } from '../core/issuer-domain-name.js';

// draft-ietf-acme-dns-persist-01 (24 March 2026), as Let's Encrypt's Boulder reads it: the record
// at _validation-persist.<name> is an RFC 8659 issue-value naming the CA and the account.
// Pure functions here (no DNS, no clock): dns-persist01.ts does the lookups.

/** The label prepended to the name being validated (the draft's "Authorization Domain Name"). */
export const DNS_PERSIST_LABEL = '_validation-persist';

/** A record that parsed: what it says, nothing checked yet. */
export interface PersistRecord {
  /** Normalized (lowercase A-labels, no trailing dot). */
  readonly issuer: string;
  readonly accountUri: string;
  /** policy=wildcard (case-insensitive); any other policy value is as if none were given (draft §4). */
  readonly wildcardPolicy: boolean;
  /** UNIX seconds; absent: the record does not expire. A bigint: any digit string parses. */
  readonly persistUntil?: bigint;
}

export type ParsedPersistRecord =
  | { readonly ok: true; readonly record: PersistRecord }
  /** `issuer` is the normalized issuer-domain-name when that part parsed, so a caller can tell whose record failed. */
  | { readonly ok: false; readonly issuer: string | undefined; readonly error: string };

/** RFC 5234 WSP, which RFC 8659 §4 allows around ';' and '='. */
function trimWsp(s: string): string {
  // A loop, not /[ \t]+$/: that regex is quadratic on a long run of spaces (hostile records up to 64 KiB).
  const isWsp = (i: number) => s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09;
  let start = 0;
  let end = s.length;
  while (start < end && isWsp(start)) start++;
  while (end > start && isWsp(end - 1)) end--;
  return s.slice(start, end);
}

/** RFC 8659 §4 value: bytes 0x21-0x3A and 0x3C-0x7E (no space, no ';', nothing outside ASCII). */
const VALUE = /^[\x21-\x3a\x3c-\x7e]*$/;

/**
 * Parses one TXT record (its strings already joined). Never throws: any text gets a result.
 * Malformed (draft -01 as Boulder reads it): an empty or invalid issuer-domain-name, an empty
 * parameter (so a trailing ';'), a parameter without '=', an empty tag, a value with a byte outside
 * RFC 8659's set, a known tag twice, a missing or empty accounturi, a persistUntil that is not
 * digits. Unknown tags are ignored (draft §4: forward compatibility), whatever their number.
 */
export function parsePersistRecord(text: string): ParsedPersistRecord {
  const parts = text.split(';');
  const rawIssuer = trimWsp(parts[0]!);
  if (rawIssuer === '') return { ok: false, issuer: undefined, error: 'empty issuer-domain-name' };
  const issuer = normalizeIssuerDomainName(rawIssuer);
  if (issuer === undefined) return { ok: false, issuer: undefined, error: `issuer-domain-name ${quote(rawIssuer)} is not a domain name` };
  const fail = (error: string): ParsedPersistRecord => ({ ok: false, issuer, error });
  const seen = new Set<string>();
  let accountUri: string | undefined;
  let policy: string | undefined;
  let persistUntil: bigint | undefined;
  for (const rawParam of parts.slice(1)) {
    const param = trimWsp(rawParam);
    if (param === '') return fail('empty parameter (a trailing or doubled ";")');
    const eq = param.indexOf('=');
    if (eq < 0) return fail(`parameter ${quote(param)} is not tag=value`);
    const tag = trimWsp(param.slice(0, eq));
    const value = trimWsp(param.slice(eq + 1));
    if (tag === '') return fail(`parameter ${quote(param)} has an empty tag`);
    if (!VALUE.test(value)) return fail(`the value of ${quote(tag)} has a character RFC 8659 does not allow (space, control or non-ASCII)`);
    // RFC 8659 §4: tags are case-insensitive.
    const known = tag.toLowerCase();
    if (known !== 'accounturi' && known !== 'policy' && known !== 'persistuntil') continue;
    if (seen.has(known)) return fail(`parameter ${quote(tag)} appears twice`);
    seen.add(known);
    if (known === 'accounturi') {
      if (value === '') return fail('accounturi is empty');
      accountUri = value;
    } else if (known === 'policy') {
      policy = value;
    } else {
      // Digits only: the draft's "base-10 encoded integer" of UNIX seconds (Boulder's ParseInt
      // also takes a sign; a negative time names no moment a record could persist until).
      if (!/^[0-9]+$/.test(value)) return fail(`persistUntil ${quote(value)} is not a UNIX time in seconds`);
      persistUntil = BigInt(value);
    }
  }
  if (accountUri === undefined) return fail('no accounturi parameter');
  return {
    ok: true,
    record: {
      issuer,
      accountUri,
      wildcardPolicy: policy?.toLowerCase() === 'wildcard',
      ...(persistUntil !== undefined ? { persistUntil } : {}),
    },
  };
}

/** Why a well-formed record of ours does not authorize this request. */
export type PersistRefusal = 'account' | 'wildcard' | 'expired';

export interface PersistRequest {
  readonly accountUri: string;
  /** The record must carry policy=wildcard: a wildcard authorization, or a record at a parent of the name. */
  readonly needsWildcardPolicy: boolean;
  readonly now: Date;
}

/** undefined when the record authorizes the request; otherwise why not, with the detail to show. */
export function refusalOf(record: PersistRecord, r: PersistRequest): { reason: PersistRefusal; detail: string } | undefined {
  // draft §4.1: accounturi is compared as a simple string (RFC 3986 §6.2.1), no case-folding.
  if (record.accountUri !== r.accountUri) {
    return { reason: 'account', detail: `accounturi is ${quote(record.accountUri)}, not this account's ${quote(r.accountUri)}` };
  }
  if (r.needsWildcardPolicy && !record.wildcardPolicy) return { reason: 'wildcard', detail: 'it does not carry policy=wildcard' };
  // draft §4: not valid for validation attempts after persistUntil.
  if (record.persistUntil !== undefined && BigInt(Math.floor(r.now.getTime() / 1000)) > record.persistUntil) {
    return { reason: 'expired', detail: `persistUntil ${record.persistUntil} (${describeUnixTime(record.persistUntil)}) has passed` };
  }
  return undefined;
}

function describeUnixTime(seconds: bigint): string {
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().replace(/\.000Z$/, 'Z') : 'far future';
}

/** Record text as shown in a problem detail: JSON-quoted, cut to about 255 characters. */
export function quote(text: string, max = 255): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** The record an operator adds: its owner name and TXT value (draft §4). */
export function persistRecordFor(o: { name: string; issuer: string; accountUri: string; wildcard: boolean }): { owner: string; value: string } {
  return {
    owner: `${DNS_PERSIST_LABEL}.${o.name}`,
    value: `${o.issuer}; accounturi=${o.accountUri}${o.wildcard ? '; policy=wildcard' : ''}`,
  };
}
