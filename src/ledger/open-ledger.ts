import type { CertificateLedger } from './ledger.js';
import { SchemaError } from './migrate.js';
import type { LedgerConnectionError } from './connection-error.js';
import type { PostgresLedgerSettings } from './postgres/connect.js';
import { SqliteLedger, type SqliteLedgerOptions } from './sqlite/ledger.js';

export interface LedgerSettings {
  /** The embedded ledger's file (dataDir/ledger.sqlite3): used when `postgres` is undefined. */
  readonly sqliteFile: string;
  /** ledger.url, ledger.passwordFile, ledger.poolSize: the shared PostgreSQL ledger. */
  readonly postgres?: PostgresLedgerSettings;
  readonly now?: () => number;
  /** Admin commands: an SQLite file that does not exist is an error, not a new ledger. */
  readonly mustExist?: boolean;
  /** Where the settings came from, added to a failure to connect: "check ledger.url and ledger.passwordFile". */
  readonly source?: string;
  /** A pooled PostgreSQL connection that broke while idle (the database restarted); already redacted. */
  readonly onIdleError?: (e: LedgerConnectionError) => void;
  /** server.workers > 1 on SQLite: this process is one of several on the file (SqliteLedgerOptions.workers). */
  readonly workers?: SqliteLedgerOptions['workers'];
}

export interface OpenedLedger {
  readonly ledger: CertificateLedger;
  /** Files whose size /metrics reports (the SQLite file and its WAL); none for PostgreSQL. */
  readonly files: readonly string[];
}

/**
 * The ledger the config names: SQLite in dataDir unless ledger.url names PostgreSQL. The one place
 * outside ledger/'s own modules that knows there are two; everything else holds a CertificateLedger.
 * For PostgreSQL, the first connection is made here (and its migrations applied), so a wrong URL
 * or password fails the start with one clear line.
 */
export async function openLedger(settings: LedgerSettings): Promise<OpenedLedger> {
  if (!settings.postgres) {
    const ledger = new SqliteLedger({
      file: settings.sqliteFile,
      ...(settings.now ? { now: settings.now } : {}),
      ...(settings.mustExist ? { mustExist: true } : {}),
      ...(settings.workers ? { workers: settings.workers } : {}),
    });
    return { ledger, files: [settings.sqliteFile, `${settings.sqliteFile}-wal`] };
  }
  // Loaded only for PostgreSQL: pg and its ledger stay out of an SQLite server's start-up.
  const [{ checkPostgresConnection, createPostgresPool }, { PostgresLedger }] = await Promise.all([
    import('./postgres/connect.js'),
    import('./postgres/ledger.js'),
  ]);
  const connection = createPostgresPool(settings.postgres, settings.onIdleError);
  try {
    await checkPostgresConnection(connection);
    const ledger = await PostgresLedger.open({ connection, ...(settings.now ? { now: settings.now } : {}) });
    return { ledger, files: [] };
  } catch (e) {
    await connection.pool.end().catch(() => undefined);
    // A newer schema (SchemaError) says so itself; anything else may quote the connection settings.
    if (e instanceof SchemaError) throw e;
    const failure = connection.redact(e);
    if (settings.source) failure.message += ` (${settings.source})`;
    throw failure;
  }
}
