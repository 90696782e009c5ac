import type { AccountSummary, CertificateLedger } from '../../ledger/ledger.js';
import { AcmeProblem } from '../../core/problem.js';
import type { RegistrationAuthority } from '../../ra/registration-authority.js';
import { accountDetailJson, accountJson } from '../../admin/access-views.js';
import { UsageError } from './certs.js';
import { isIP } from 'node:net';
import { dnsNameProblem } from '../../policy/identifiers.js';
import { persistRecordFor } from '../../validation/dns-persist-record.js';
import { parseLimit, printListing, type ListingOptions, type ListingOutput } from './listing.js';

const ISO_SECONDS = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An account id as an operator may paste it: the id, or the account URL a client logged. */
export function normalizeAccountId(input: string): string {
  const id = input.includes('/') ? input.slice(input.lastIndexOf('/') + 1) : input;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UsageError(`${JSON.stringify(input)} is not an account id or account URL`);
  return id;
}

/** `certmint accounts list`: oldest first, as a table, a JSON array or JSON Lines. */
export async function accountsListCommand(ledger: CertificateLedger, o: ListingOptions, out: ListingOutput): Promise<void> {
  const limit = parseLimit(o, (m) => new UsageError(m));
  await printListing<AccountSummary, { createdAt: Date; id: string }>(
    {
      page: (n, after) => ledger.listAccounts(n, after),
      cursor: (a) => ({ createdAt: a.createdAt, id: a.id }),
      count: () => ledger.countAccounts(),
      json: accountJson,
      header: ['ID', 'STATUS', 'CREATED', 'CERTS', 'CONTACTS'],
      cells: (a) => [a.id, a.status, ISO_SECONDS(a.createdAt), String(a.certificates), a.contact.join(',')],
    },
    o,
    limit,
    out,
  );
}

export async function accountsShowCommand(ledger: CertificateLedger, input: string, o: { json?: boolean }): Promise<string> {
  const id = normalizeAccountId(input);
  const account = await ledger.getAccountSummary(id);
  if (!account) throw new UsageError(`no account ${id} in this ledger`);
  const audit = await ledger.auditTrail(`account:${id}`);
  const info = accountDetailJson(account, audit);
  if (o.json) return `${JSON.stringify(info, null, 2)}\n`;
  return (
    Object.entries(info)
      .filter(([, v]) => !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => `${k.padEnd(20)} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('\n') + '\n'
  );
}

/** The operator's deactivation: the same use case as the account's own (RFC 8555 §7.3.6), audited as operator:<name>. */
export async function accountsDeactivateCommand(ra: RegistrationAuthority, input: string, operator: string): Promise<string> {
  const id = normalizeAccountId(input);
  try {
    const { deactivatedAuthorizations } = await ra.deactivateAccount(id, { kind: 'operator', name: operator });
    return `deactivated account ${id} (${deactivatedAuthorizations} pending authorization${deactivatedAuthorizations === 1 ? '' : 's'} deactivated)\n`;
  } catch (e) {
    if (e instanceof AcmeProblem) {
      throw new UsageError(e.type === 'accountDoesNotExist' ? `no account ${id} in this ledger; nothing was changed` : `${e.detail}; nothing was changed`);
    }
    throw e;
  }
}

export interface PersistRecordOptions {
  readonly wildcard?: boolean;
  readonly json?: boolean;
}

/**
 * `certmint accounts persist-record ACCOUNT_ID NAME [--wildcard]`: the one dns-persist-01 record
 * (draft-ietf-acme-dns-persist-01 §4) an operator adds so the account can get certificates for
 * NAME without a record per validation. Printed as a zone-file line with the first issuer domain
 * name; comment lines (';') say what it authorizes, so the whole output pastes into a zone file.
 */
export async function accountsPersistRecordCommand(
  ledger: Pick<CertificateLedger, 'getAccount'>,
  server: { readonly issuerDomainNames: readonly string[]; readonly accountUrl: (id: string) => string },
  input: string,
  nameInput: string,
  o: PersistRecordOptions,
): Promise<string> {
  const issuer = server.issuerDomainNames[0];
  if (issuer === undefined) {
    throw new UsageError('dns-persist-01 is not configured: set validation.dnsPersist.issuerDomainNames (e.g. ["ca.example.internal"]) first');
  }
  const { name, wildcard } = persistName(nameInput, o.wildcard ?? false);
  const id = normalizeAccountId(input);
  const account = await ledger.getAccount(id);
  if (!account) throw new UsageError(`no account ${id} in this ledger`);
  if (account.status !== 'valid') throw new UsageError(`account ${id} is ${account.status}: a record naming it would authorize nothing`);
  const accountUri = server.accountUrl(id);
  const { owner, value } = persistRecordFor({ name, issuer, accountUri, wildcard });
  const authorizes = wildcard ? [name, `*.${name}`, `every name under ${name}`] : [name];
  if (o.json) {
    return `${JSON.stringify({ owner, type: 'TXT', value, issuerDomainName: issuer, accountUri, name, wildcard, authorizes }, null, 2)}\n`;
  }
  return [
    `; dns-persist-01 (draft-ietf-acme-dns-persist-01): account ${id} may get certificates for ${authorizes.join(', ')}`,
    '; until this record is removed; it stands for the account key, so protect that key.',
    `${owner}. IN TXT ${zoneFileStrings(value)}`,
    '',
  ].join('\n');
}

/** NAME as the operator typed it: `*.x` means x with --wildcard; a trailing dot is dropped. */
function persistName(input: string, wildcardFlag: boolean): { name: string; wildcard: boolean } {
  const trimmed = input.endsWith('.') ? input.slice(0, -1) : input;
  const wildcard = wildcardFlag || trimmed.startsWith('*.');
  const name = (trimmed.startsWith('*.') ? trimmed.slice(2) : trimmed).toLowerCase();
  if (isIP(name) !== 0) throw new UsageError(`${JSON.stringify(input)} is an IP address: dns-persist-01 proves control of DNS names only (use http-01 or tls-alpn-01)`);
  const problem = dnsNameProblem(name);
  if (problem || name.includes('*')) throw new UsageError(`${JSON.stringify(input)} is not a DNS name: ${problem?.detail ?? '"*" only as "*.name"'}`);
  return { name, wildcard };
}

/** RFC 1035 §3.3: a TXT character-string holds at most 255 octets; a longer value is several strings, which resolvers join. */
function zoneFileStrings(value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  return chunks.map((c) => JSON.stringify(c)).join(' ');
}
