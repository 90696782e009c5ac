import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/config.js';
import { processClock } from '../fake-clock.js';
import { redactUrlPassword } from '../../core/redact-url.js';
import { LedgerConnectionError } from '../../ledger/connection-error.js';
import { LedgerCopyError } from '../../ledger/copy/schema.js';
import type { PostgresConnection } from '../../ledger/postgres/connect.js';
import { LedgerMissingError } from '../../ledger/sqlite/ledger.js';
import type { LedgerCopyResult } from '../../ledger/copy/sqlite-to-postgres.js';
import { operatorName, readConfig } from '../admin.js';
import { ledgerFile } from '../composition.js';
import { UsageError } from './certs.js';

export interface LedgerCopyCliOptions {
  readonly to: string;
  readonly passwordFile?: string;
}

/** `certmint ledger copy` (main.ts registers it with this one call). */
export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('the ledger database');
  ledger
    .command('copy')
    .description(
      "copy the SQLite ledger of dataDir (accounts, orders, certificates, revocations, EAB keys, audit log) into an empty PostgreSQL database, in one transaction, and check every table's count; safe while certmint serve runs",
    )
    .requiredOption('--to <url>', 'postgres://user@host:5432/database (a password in the URL shows in the process list: prefer --password-file)')
    .option('--password-file <file>', "a file holding the database password (mode 0600; default: the config's ledger.passwordFile when --to has no password)")
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: LedgerCopyCliOptions & { config?: string }) => {
      process.stdout.write(await ledgerCopyCommand(readConfig(opts.config), opts, operatorName()));
    });
}

/**
 * `certmint ledger copy --to URL`: what it prints. The SQLite ledger of dataDir goes into the
 * PostgreSQL database at URL (migrated first, refused unless empty), so an operator moving to
 * several instances keeps the inventory, the revocations and the audit trail with their ids.
 * Neither the output nor an error ever holds the password.
 */
export async function ledgerCopyCommand(config: Config, o: LedgerCopyCliOptions, operator: string): Promise<string> {
  const target = redactUrlPassword(o.to);
  let url: URL;
  try {
    url = new URL(o.to);
  } catch {
    throw new UsageError(`--to "${target}" is not a URL: write postgres://user@host:5432/database`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new UsageError(`--to must be a postgres:// (or postgresql://) URL, not ${url.protocol}//`);
  if (o.passwordFile !== undefined && url.password !== '') throw new UsageError(`--to (${target}) has a password and --password-file is set too: keep one`);
  const passwordFile = o.passwordFile ?? (url.password === '' ? config.ledger.passwordFile : undefined);

  const source = path.resolve(ledgerFile(config));
  if (!existsSync(source)) throw new LedgerMissingError(`no ledger at ${source}: is dataDir right? (certmint serve creates it on first start)`);
  // A duration for the report: monotonic (performance.now), not the clock's time of day.
  const started = performance.now();
  // pg is loaded for this command only, not by every other command's start (serve's included).
  const { createPostgresPool } = await import('../../ledger/postgres/connect.js');
  const connection = oneLine(() => createPostgresPool({ url: o.to, passwordFile, poolSize: 1 }));
  try {
    const result = await copyTo(connection, source, target, operator);
    return report(result, source, target, Math.round(performance.now() - started));
  } finally {
    await connection.pool.end().catch(() => undefined);
  }
}

async function copyTo(connection: PostgresConnection, source: string, target: string, operator: string): Promise<LedgerCopyResult> {
  try {
    const { copyLedgerFileToPostgres } = await import('../../ledger/copy/sqlite-to-postgres.js');
    return await copyLedgerFileToPostgres(source, connection, {
      audit: (tables, schemaVersion) => ({
        at: processClock().now(),
        actor: `operator:${operator}`,
        action: 'ledger-copy',
        subject: 'ledger',
        detail: { source, target, schemaVersion, tables: Object.fromEntries(tables.map((t) => [t.table, Number(t.rows)])) },
      }),
    });
  } catch (e) {
    if (e instanceof LedgerCopyError) throw new UsageError(e.message);
    if (e instanceof Error && e.name === 'SchemaError') throw e;
    // pg's errors (login refused, unreachable, a statement refused): one line, without the password.
    throw new UsageError(`${connection.redact(e).message}; nothing was copied`);
  }
}

/** Errors of the password file or the URL as one line (main.ts prints a UsageError without its stack). */
function oneLine<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LedgerConnectionError) throw new UsageError(e.message);
    throw e;
  }
}

function report(r: LedgerCopyResult, source: string, target: string, ms: number): string {
  const width = Math.max(...r.tables.map((t) => t.table.length));
  const rows = r.tables.reduce((sum, t) => sum + t.rows, 0n);
  const lines = r.tables.map((t) => {
    const own = t.table === 'audit_log' ? `  (+1: this copy's ledger-copy entry, id ${r.auditEntryId})` : '';
    return `  ${t.table.padEnd(width)}  ${String(t.rows).padStart(10)}${own}\n`;
  });
  return (
    `copied ${source} (schema version ${r.schemaVersion}) to ${target}:\n` +
    lines.join('') +
    `${r.tables.length} tables, ${rows} rows, in ${ms} ms; every count is the same in SQLite and PostgreSQL; committed\n` +
    `not copied: schema_migrations (each ledger keeps its own; both at version ${r.schemaVersion})` +
    (r.targetOnly.length > 0 ? `; PostgreSQL-only tables, left empty: ${r.targetOnly.join(', ')}` : '') +
    '\n'
  );
}
