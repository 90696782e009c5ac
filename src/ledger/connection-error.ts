/**
 * The database could not be reached, refused the login, or failed a query: the message names the
 * server (URL without password) and PostgreSQL's or the system's reason, never the password.
 * `code` is PostgreSQL's SQLSTATE (28P01: wrong password) or Node's errno (ECONNREFUSED), for
 * callers that decide between retrying and giving up.
 */
export class LedgerConnectionError extends Error {
  override name = 'LedgerConnectionError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}
