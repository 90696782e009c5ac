import { parseDuration } from '../core/duration.js';
import { AcmeProblem } from '../core/problem.js';
import type { AccountSummary, AuditEntry, AuditFilter, LedgerReader } from '../ledger/ledger.js';
import type { EabKeyRecord } from '../ledger/records.js';
import type { NewEabKeyRequest } from '../ra/eab.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './certificate-views.js';

// The JSON of accounts, EAB keys and audit entries, shared by the admin API and the CLI's --json
// (cli/ sits above admin/), so both doors print one shape; and the lists and checks the admin API's
// routes and the console's pages share, so a page and its API route cannot disagree.

const bad = (detail: string) => new AcmeProblem('malformed', detail);

/** One row of `certmint accounts list --json` and GET /api/v1/accounts. */
export function accountJson(a: AccountSummary) {
  return {
    id: a.id,
    status: a.status,
    contacts: a.contact,
    created: a.createdAt.toISOString(),
    certificates: a.certificates,
  };
}

/** `certmint accounts show --json` and GET /api/v1/accounts/:id. */
export function accountDetailJson(a: AccountSummary, audit: readonly AuditEntry[]) {
  return {
    ...accountJson(a),
    termsOfServiceAgreed: a.termsOfServiceAgreed,
    keyType: [a.jwk.kty, a.jwk.crv].filter((v) => typeof v === 'string').join(' '),
    keyThumbprint: a.keyThumbprint,
    audit: audit.map((e) => ({ at: e.at.toISOString(), actor: e.actor, action: e.action, ...e.detail })),
  };
}

/** As the operator reads an EAB key: revoked, expired, used (single use and bound) or usable. */
export function eabKeyState(k: EabKeyRecord, now: Date): string {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt <= now) return 'expired';
  if (!k.reusable && k.boundAccountId) return 'used';
  return 'usable';
}

/** An EAB key as `certmint eab list --json` prints it: never its HMAC key. */
export function eabKeyJson(k: EabKeyRecord) {
  return {
    kid: k.kid,
    label: k.label,
    policy: k.policy ?? null,
    reusable: k.reusable,
    createdAt: k.createdAt.toISOString(),
    expiresAt: k.expiresAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
    boundAccount: k.boundAccountId ?? null,
    bindings: k.bindings,
  };
}

/** One entry of `certmint audit --json` and GET /api/v1/audit. */
export function auditEntryJson(e: AuditEntry) {
  return { id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, detail: e.detail };
}

/**
 * A query's parameters: only `allowed` ones, each once (an unknown one is a 400, never ignored,
 * so a misspelt filter cannot silently widen a list).
 */
export function queryOf<K extends string>(query: unknown, allowed: readonly K[]): Partial<Record<K, string>> {
  const q = (query ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(q).find((k) => !(allowed as readonly string[]).includes(k));
  if (unknown !== undefined) throw bad(`unknown query parameter ${JSON.stringify(unknown)}; this list takes ${allowed.join(', ')}`);
  const repeated = Object.entries(q).find(([, v]) => typeof v !== 'string');
  if (repeated !== undefined) throw bad(`query parameter ${JSON.stringify(repeated[0])} is given more than once`);
  return q as Partial<Record<K, string>>;
}

export function pageSizeOf(text: string | undefined): number {
  const limit = text === undefined ? DEFAULT_PAGE_SIZE : Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw bad(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}, not ${JSON.stringify(text)}`);
  return limit;
}

/**
 * The keyset cursor of the accounts and audit lists: the (time, id) of a page's last row, as
 * base64url JSON, opaque to clients; anything else is refused, never misread.
 */
export function encodeKeyset(at: Date, id: string | number): string {
  return Buffer.from(JSON.stringify([at.getTime(), id])).toString('base64url');
}

export function decodeKeyset<T extends 'string' | 'number'>(text: string, idType: T): { at: Date; id: T extends 'string' ? string : number } {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === idType && (idType === 'string' || Number.isSafeInteger(v[1]))) {
      return { at: new Date(v[0] as number), id: v[1] as T extends 'string' ? string : number };
    }
  } catch {
    // Refused below.
  }
  throw bad('cursor is not one this API gave: pass the "next" of the previous page unchanged');
}

/** One page of `limit` rows out of `limit + 1` read (whether there is a next page, without a COUNT). */
export function pageOf<Row>(rows: readonly Row[], limit: number, cursor: (last: Row) => string): { page: Row[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { page, next: rows.length > limit && last !== undefined ? cursor(last) : null };
}

/**
 * `certmint audit --since/--until` and GET /api/v1/audit's `since`/`until`: an ISO 8601 date
 * ("2026-11-01", "2026-11-23T10:00:00Z") or a duration back from now ("24h", "7d").
 */
export function pointInTime(option: string, value: string, now: Date, refuse: (message: string) => Error = bad): Date {
  if (/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/.test(value)) return new Date(now.getTime() - parseDuration(value));
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(at.getTime())) {
    throw refuse(`${option} "${value}" is neither a date (2026-11-01, 2026-11-01T08:00:00Z) nor a duration back from now (24h, 7d)`);
  }
  return at;
}

const notFound = (detail: string) => new AcmeProblem('malformed', detail, { status: 404 });

/** An account id as `certmint accounts` takes it: the id, or the account URL a client logged. */
export function accountIdOf(input: string): string {
  const id = input.includes('/') ? input.slice(input.lastIndexOf('/') + 1) : input;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw bad(`${JSON.stringify(input)} is not an account id`);
  return id;
}

/** One page of GET /api/v1/accounts (query: limit, cursor), oldest first as `accounts list`. */
export async function accountsPageOf(ledger: LedgerReader, query: unknown): Promise<{ page: AccountSummary[]; next: string | null }> {
  const q = queryOf(query, ['limit', 'cursor'] as const);
  const limit = pageSizeOf(q.limit);
  const after = q.cursor !== undefined ? decodeKeyset(q.cursor, 'string') : undefined;
  const rows = await ledger.listAccounts(limit + 1, after ? { createdAt: after.at, id: after.id } : undefined);
  return pageOf(rows, limit, (a) => encodeKeyset(a.createdAt, a.id));
}

/**
 * An admin's deactivation of an account (ra/'s use case, audited as admin:<name>): 404 for an
 * unknown account, 409 when it is deactivated already (or meanwhile), nothing changed either way.
 */
export async function deactivateAsAdmin(o: { ra: Pick<RegistrationAuthority, 'deactivateAccount'>; ledger: LedgerReader }, id: string, name: string) {
  if (!(await o.ledger.getAccount(id))) throw notFound(`no account ${id} in this ledger`);
  try {
    return await o.ra.deactivateAccount(id, { kind: 'admin', name });
  } catch (e) {
    // A conflict with the account's state, not the caller's rights.
    if (e instanceof AcmeProblem && e.type === 'unauthorized') throw new AcmeProblem('malformed', `${e.detail}; nothing was changed`, { status: 409 });
    throw e;
  }
}

/** GET /api/v1/eab-keys and `eab list --json`: every key with its state, never an HMAC key. */
export async function eabKeysOf(ledger: LedgerReader, now: Date) {
  return (await ledger.listEabKeys()).map((k) => ({ ...eabKeyJson(k), state: eabKeyState(k, now) }));
}

export const EAB_BODY_KEYS = ['label', 'policy', 'reusable', 'expires'] as const;

/** A new EAB key's request (POST /api/v1/eab-keys's JSON body, the console's form): `certmint eab create`'s options. */
export function eabRequestOf(body: unknown): NewEabKeyRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the body must be a JSON object such as {"label": "team-a"}');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => !(EAB_BODY_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw bad(`unknown member ${JSON.stringify(unknown)}: the body takes ${EAB_BODY_KEYS.join(', ')}`);
  if (typeof b.label !== 'string') throw bad('"label" must be a string: an external account binding key needs a label');
  if (b.policy !== undefined && typeof b.policy !== 'string') throw bad('"policy" must be the name of a policy from the config');
  if (b.reusable !== undefined && typeof b.reusable !== 'boolean') throw bad('"reusable" must be true or false');
  let expiresInMs: number | undefined;
  if (b.expires !== undefined) {
    if (typeof b.expires !== 'string') throw bad('"expires" must be a duration such as "30d"');
    try {
      expiresInMs = parseDuration(b.expires);
    } catch (e) {
      throw bad(`expires: ${(e as Error).message}`);
    }
  }
  return {
    label: b.label,
    ...(b.policy !== undefined ? { policy: b.policy } : {}),
    ...(expiresInMs !== undefined ? { expiresInMs } : {}),
    reusable: b.reusable === true,
  };
}

export const AUDIT_QUERY_KEYS = ['since', 'until', 'action', 'subject', 'limit', 'cursor'] as const;

/** One page of GET /api/v1/audit (`certmint audit`'s filters: since, until, action, subject; limit, cursor). */
export async function auditPageOf(ledger: LedgerReader, query: unknown, now: Date): Promise<{ page: AuditEntry[]; next: string | null }> {
  const q = queryOf(query, AUDIT_QUERY_KEYS);
  const limit = pageSizeOf(q.limit);
  const filter: AuditFilter = {
    limit: limit + 1,
    ...(q.since !== undefined ? { since: pointInTime('since', q.since, now) } : {}),
    ...(q.until !== undefined ? { until: pointInTime('until', q.until, now) } : {}),
    ...(q.action !== undefined ? { action: q.action } : {}),
    ...(q.subject !== undefined ? { subject: q.subject } : {}),
    ...(q.cursor !== undefined ? { after: decodeKeyset(q.cursor, 'number') } : {}),
  };
  return pageOf(await ledger.listAudit(filter), limit, (e) => encodeKeyset(e.at, e.id));
}
