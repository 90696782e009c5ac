import { LedgerConnectionError } from '../connection-error.js';

/** Node's errnos for a server that cannot be reached, or a connection that broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/**
 * SQLSTATEs of a server that is going away or will not take us: 57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, in recovery),
 * 53300 too_many_connections. Class 08 (connection exception) is matched by its prefix.
 */
const SERVER_GONE_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * pg's own errors for a connection that ended or never came, which carry no code. A server that
 * accepts the connection and never answers is "Connection terminated due to connection timeout"
 * (pg 8.x, connectionTimeoutMillis); a pool whose every connection is stuck, "timeout exceeded".
 */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
];

/**
 * Whether `e` means the PostgreSQL ledger cannot be reached or went away (rather than refusing
 * one statement): a request that fails this way may succeed against the same ledger later, or
 * through another instance, so it is answered as unavailable (503), not as a server bug.
 * Accepts pg's and Node's errors as thrown, and LedgerConnectionError (which keeps the code and
 * prefixes the message with the server it names).
 */
export function ledgerUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') return NETWORK_CODES.has(code) || SERVER_GONE_CODES.has(code) || code.startsWith('08');
  if (e instanceof LedgerConnectionError) return PG_CONNECTION_MESSAGES.some((m) => e.message.endsWith(`: ${m}`));
  return PG_CONNECTION_MESSAGES.includes(e.message);
}
