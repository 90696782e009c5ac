import type { AccountSummary, CertificateLedger } from '../../ledger/ledger.js';
import { AcmeProblem } from '../../core/problem.js';
import type { RegistrationAuthority } from '../../ra/registration-authority.js';
import { accountDetailJson, accountJson } from '../../admin/access-views.js';
import { UsageError } from './certs.js';
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
