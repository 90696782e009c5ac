import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { looseModeProblem } from '../../core/private-file-mode.js';
import { redactUrlPassword } from '../../core/redact-url.js';
import { LedgerConnectionError } from '../connection-error.js';

/** What the config says about the PostgreSQL ledger (Config['ledger'] with a URL). */
export interface PostgresLedgerSettings {
  /** postgres://user[:password]@host:port/database[?sslmode=…] */
  readonly url: string;
  /** A file holding the password (Docker/Kubernetes secret); undefined: the URL's password, PGPASSWORD or none. */
  readonly passwordFile: string | undefined;
  readonly poolSize: number;
}

export { LedgerConnectionError };

/** The pool and what must never be printed: every error that leaves it goes through `redact`. */
export interface PostgresConnection {
  readonly pool: pg.Pool;
  /** `e` as a LedgerConnectionError whose message and stack hold no password. */
  redact(e: unknown): LedgerConnectionError;
}

/**
 * A pg Pool for the ledger: ledger.url, the password from ledger.passwordFile when set, at most
 * ledger.poolSize connections. Connects lazily; `checkPostgresConnection` proves it works.
 * `onIdleError` hears about connections that broke while idle in the pool (the database
 * restarted, say); pg would otherwise crash the process with an unhandled 'error' event.
 */
export function createPostgresPool(settings: PostgresLedgerSettings, onIdleError: (e: LedgerConnectionError) => void = () => undefined): PostgresConnection {
  const url = new URL(settings.url);
  const secrets: string[] = [];
  if (url.password !== '') secrets.push(url.password, decodeURIComponent(url.password));
  if (settings.passwordFile !== undefined) {
    // A URL without a host (a unix socket in ?host=) cannot carry a password; say so rather than log in without it.
    if (url.hostname === '') throw new LedgerConnectionError('ledger.passwordFile needs a host in ledger.url (postgres://user@host:5432/db)', undefined);
    const password = readLedgerPassword(settings.passwordFile);
    // In the URL rather than pg's `password` option: pg lets the connection string's (empty)
    // password override that option.
    url.password = encodeURIComponent(password);
    secrets.push(password, url.password);
  }
  const where = redactUrlPassword(settings.url);
  const redact = (e: unknown): LedgerConnectionError => redactLedgerError(e, where, secrets);
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: settings.poolSize,
    // A database that does not answer fails a request (503 upstream) instead of hanging it.
    connectionTimeoutMillis: 10_000,
    application_name: 'certmint',
  });
  pool.on('error', (e) => onIdleError(redact(e)));
  return { pool, redact };
}

/** One round trip through the pool: a login, a query. Throws LedgerConnectionError. */
export async function checkPostgresConnection(connection: PostgresConnection): Promise<void> {
  try {
    await connection.pool.query('SELECT 1');
  } catch (e) {
    throw connection.redact(e);
  }
}

/**
 * The password in `file`: private like every secret file (refused when group or others may read
 * or write it, checked on the open descriptor), one trailing newline dropped (secrets written with
 * echo), not empty.
 */
export function readLedgerPassword(file: string): string {
  const label = `the ledger password file ${file} (ledger.passwordFile)`;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new LedgerConnectionError(`${label} cannot be read: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code);
  }
  let text: string;
  try {
    const problem = looseModeProblem(file, fstatSync(fd), label);
    if (problem) throw new LedgerConnectionError(problem, undefined);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new LedgerConnectionError(`${label} is empty`, undefined);
  return password;
}

function redactLedgerError(e: unknown, where: string, secrets: readonly string[]): LedgerConnectionError {
  if (e instanceof LedgerConnectionError) return e;
  const scrub = (text: string): string => secrets.reduce((t, s) => (s === '' ? t : t.split(s).join('…')), text);
  const original = e instanceof Error ? e : new Error(String(e));
  const raw = (original as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : undefined;
  // Node's AggregateError (every address of a host refused) has no message of its own, only a code.
  const wrapped = new LedgerConnectionError(`the PostgreSQL ledger at ${where}: ${scrub(original.message || code || original.name)}`, code);
  // pg's own stack, scrubbed; no `cause`: the original may carry the connection settings.
  wrapped.stack = `${wrapped.name}: ${wrapped.message}\n${scrub(original.stack ?? '').split('\n').slice(1).join('\n')}`;
  return wrapped;
}
