import Database from 'better-sqlite3';
import type { PoolClient } from 'pg';
import type { NewAuditEntry } from '../ledger.js';
import { readMigrations } from '../migrate.js';
import { checkPostgresConnection, type PostgresConnection } from '../postgres/connect.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from '../postgres/migrate.js';
import {
  converterFor,
  LedgerCopyError,
  planCopy,
  quoteIdent,
  readSourceTables,
  readTargetTables,
  type CopyStep,
} from './schema.js';

export { LedgerCopyError } from './schema.js';

/** One table as copied: the same number of rows on both sides. */
export interface CopiedTable {
  readonly table: string;
  readonly rows: bigint;
}

export interface LedgerCopyResult {
  readonly schemaVersion: number;
  /** In copy order (foreign-key order). audit_log's count is of the copied rows, without the entry of the copy itself. */
  readonly tables: readonly CopiedTable[];
  /** Tables only the PostgreSQL schema has (nonces, rate limits): not copied. */
  readonly targetOnly: readonly string[];
  /** The id of the copy's own audit entry, after every copied one. */
  readonly auditEntryId: bigint;
}

export interface LedgerCopyOptions {
  /** The copy's own audit entry, written after the counts were found equal; gets the copied tables. */
  readonly audit: (tables: readonly CopiedTable[], schemaVersion: number) => NewAuditEntry;
  /** Rows per INSERT (fewer when the columns times the rows would pass PostgreSQL's 65,535 parameters). */
  readonly batchRows?: number;
}

/** The wire protocol counts a statement's parameters in 16 bits. */
const MAX_PARAMETERS = 65_535;

/**
 * Rows the migrations themselves write, which a target may hold and still count as empty: 0002
 * seeds crl_state with 'intermediate' and 'root' at CRL number 0. Only untouched seed rows
 * qualify (a database where a CRL was signed is not empty); the copy replaces them with the
 * source's. The one hand-written list here: the seed is data, which no catalog describes.
 */
const SEEDED: Readonly<Record<string, string>> = {
  crl_state: 'crl_number = 0 AND dirty AND this_update IS NULL AND next_update IS NULL AND der IS NULL',
};

/**
 * Copies the SQLite ledger `db` into the PostgreSQL ledger behind `client` (migrated already to
 * the same schema version): every table both have, in one read transaction on SQLite (a
 * consistent snapshot while `certmint serve` keeps writing; WAL readers never block it) and one
 * transaction on PostgreSQL (all or nothing). Refuses a target whose tables hold rows. After the
 * copy every table's count is compared on both sides and any difference rolls everything back;
 * only then are the sequences moved past the copied ids and the copy's own audit entry written.
 */
export async function copySqliteToPostgres(db: Database.Database, client: PoolClient, options: LedgerCopyOptions): Promise<LedgerCopyResult> {
  const batchRows = options.batchRows ?? 1000;
  // BEGIN is deferred: the snapshot is taken by the first read below and kept until COMMIT.
  db.exec('BEGIN');
  try {
    await client.query('BEGIN');
    try {
      const result = await copyInTransactions(db, client, batchRows, options);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  } finally {
    db.exec('COMMIT');
  }
}

async function copyInTransactions(db: Database.Database, client: PoolClient, batchRows: number, options: LedgerCopyOptions): Promise<LedgerCopyResult> {
  const sourceVersion = Number((db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0);
  const targetVersion = Number((await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
  if (sourceVersion !== targetVersion) {
    throw new LedgerCopyError(
      sourceVersion < targetVersion
        ? `the SQLite ledger has schema version ${sourceVersion}, older than this certmint's ${targetVersion}: open it once with this certmint (certmint certs list upgrades it), then copy; nothing was copied`
        : `the SQLite ledger has schema version ${sourceVersion}, the PostgreSQL ledger ${targetVersion}: copy with the certmint that wrote the SQLite ledger; nothing was copied`,
    );
  }
  const { steps, targetOnly } = planCopy(readSourceTables(db), await readTargetTables(client));
  const names = steps.map((s) => quoteIdent(s.table.name));
  // No other writer while the target is checked and filled (a server already pointed at it waits, or we give up after 10 s); readers go on.
  await client.query(`SET LOCAL lock_timeout = '10s'`);
  await client.query(`LOCK TABLE ${names.join(', ')} IN EXCLUSIVE MODE`);
  await refuseNonEmptyTarget(client, steps);

  const sourceCounts = new Map(steps.map((s) => [s.table.name, db.prepare(`SELECT COUNT(*) FROM ${quoteIdent(s.table.name)}`).pluck().safeIntegers(true).get() as bigint]));
  const sequenceFloor = autoincrementSeen(db);
  const sequences: { sequence: string; last: bigint }[] = [];
  const deferredRows: { step: CopyStep; rows: unknown[][] }[] = [];
  for (const step of steps) {
    const copied = await copyTable(db, client, step, batchRows);
    if (step.deferred.length > 0) deferredRows.push({ step, rows: copied.deferred });
    for (const [i, column] of step.columns.entries()) {
      if (column.sequence === null) continue;
      let last = copied.max[i] ?? 0n;
      const floor = sequenceFloor.get(step.table.name);
      if (floor !== undefined && step.table.primaryKey.length === 1 && step.table.primaryKey[0] === column.name && floor > last) last = floor;
      sequences.push({ sequence: column.sequence, last });
    }
  }
  for (const { step, rows } of deferredRows) await setDeferred(client, step, rows, batchRows);

  const tables: CopiedTable[] = [];
  for (const step of steps) {
    const name = step.table.name;
    const target = BigInt((await client.query<{ n: string }>(`SELECT COUNT(*)::text AS n FROM ${quoteIdent(name)}`)).rows[0]!.n);
    const source = sourceCounts.get(name)!;
    if (target !== source) {
      throw new LedgerCopyError(`${name} has ${source} rows in SQLite but ${target} in PostgreSQL after the copy: rolled back, nothing was copied`);
    }
    tables.push({ table: name, rows: source });
  }
  // A sequence is not transactional: moved only once the copy is known good, just before the commit.
  for (const s of sequences) if (s.last > 0n) await client.query('SELECT setval($1, $2)', [s.sequence, s.last.toString()]);
  const auditEntryId = await appendAudit(client, options.audit(tables, sourceVersion), sourceCounts.get('audit_log') ?? 0n);
  return { schemaVersion: sourceVersion, tables, targetOnly, auditEntryId };
}

/** The first table (in copy order) that holds rows, beyond a migration's untouched seed, refuses the copy. */
async function refuseNonEmptyTarget(client: PoolClient, steps: readonly CopyStep[]): Promise<void> {
  for (const { table } of steps) {
    const seeded = SEEDED[table.name];
    const from = `${quoteIdent(table.name)}${seeded ? ` WHERE NOT (${seeded})` : ''}`;
    const { rows } = await client.query<{ found: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${from}) AS found`);
    if (rows[0]?.found) {
      const n = (await client.query<{ n: string }>(`SELECT COUNT(*)::text AS n FROM ${from}`)).rows[0]!.n;
      throw new LedgerCopyError(
        `the PostgreSQL ledger is not empty: ${table.name} holds ${n} row${n === '1' ? '' : 's'}${seeded ? ' beyond those the migrations create' : ''}; ledger copy fills an empty database only; nothing was copied`,
      );
    }
  }
  for (const name of Object.keys(SEEDED)) if (steps.some((s) => s.table.name === name)) await client.query(`DELETE FROM ${quoteIdent(name)}`);
}

/** sqlite_sequence: the highest id each AUTOINCREMENT table ever handed out (never reused, even after a delete). */
function autoincrementSeen(db: Database.Database): Map<string, bigint> {
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`).get();
  if (!exists) return new Map();
  const rows = db.prepare('SELECT name, seq FROM sqlite_sequence').safeIntegers(true).all() as { name: string; seq: bigint }[];
  return new Map(rows.map((r) => [r.name, r.seq]));
}

/**
 * One table, streamed: rows are read from the snapshot and sent as one multi-row
 * INSERT … VALUES ($1, $2, …), (…) per batch (PostgreSQL takes each parameter's type from its
 * column; measured about a third faster than unnest() of one array per column, whose literals
 * PostgreSQL must parse and unescape), at most 65,535 parameters a statement.
 */
async function copyTable(db: Database.Database, client: PoolClient, step: CopyStep, batchRows: number): Promise<{ max: (bigint | undefined)[]; deferred: unknown[][] }> {
  const { table, columns, deferred } = step;
  const convert = columns.map((c) => converterFor(table.name, c));
  const deferredAt = deferred.map((d) => columns.findIndex((c) => c.name === d));
  const keyAt = table.primaryKey.map((k) => columns.findIndex((c) => c.name === k));
  const perStatement = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMETERS / columns.length)));
  const head = `INSERT INTO ${quoteIdent(table.name)} (${columns.map((c) => quoteIdent(c.name)).join(', ')})${columns.some((c) => c.identity) ? ' OVERRIDING SYSTEM VALUE' : ''} VALUES `;
  const statement = (rows: number): string =>
    head + Array.from({ length: rows }, (_, r) => `(${columns.map((_, i) => `$${r * columns.length + i + 1}`).join(', ')})`).join(', ');
  const full = statement(perStatement);
  const max: (bigint | undefined)[] = columns.map(() => undefined);
  const later: unknown[][] = [];
  let values: unknown[] = [];
  const flush = async () => {
    const rows = values.length / columns.length;
    if (rows === 0) return;
    await client.query(rows === perStatement ? full : statement(rows), values);
    values = [];
  };
  const select = db.prepare(`SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(table.name)}`).raw(true).safeIntegers(true);
  for (const row of select.iterate() as Iterable<unknown[]>) {
    for (let i = 0; i < columns.length; i++) {
      const value = convert[i]!(row[i]);
      if (columns[i]!.sequence !== null && typeof value === 'bigint' && (max[i] === undefined || value > max[i]!)) max[i] = value;
      values.push(deferredAt.includes(i) ? null : value);
    }
    if (deferredAt.some((i) => row[i] !== null)) later.push([...keyAt.map((i) => convert[i]!(row[i])), ...deferredAt.map((i) => convert[i]!(row[i]))]);
    if (values.length === perStatement * columns.length) await flush();
  }
  await flush();
  return { max, deferred: later };
}

/** The foreign-key columns a cycle made wait: UPDATE … FROM unnest(keys…, values…), in batches. */
async function setDeferred(client: PoolClient, step: CopyStep, rows: readonly unknown[][], batchRows: number): Promise<void> {
  const { table } = step;
  const keys = table.primaryKey.map((k) => table.columns.find((c) => c.name === k)!);
  const values = step.deferred.map((d) => table.columns.find((c) => c.name === d)!);
  const all = [...keys, ...values];
  const alias = all.map((_, i) => `c${i}`);
  const sql =
    `UPDATE ${quoteIdent(table.name)} AS t SET ${values.map((v, i) => `${quoteIdent(v.name)} = v.c${keys.length + i}`).join(', ')} ` +
    `FROM unnest(${all.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS v(${alias.join(', ')}) ` +
    `WHERE ${keys.map((k, i) => `t.${quoteIdent(k.name)} = v.c${i}`).join(' AND ')}`;
  for (let start = 0; start < rows.length; start += batchRows) {
    const slice = rows.slice(start, start + batchRows);
    await client.query(sql, all.map((_, i) => slice.map((r) => r[i])));
  }
}

/** The copy's own entry, after every copied one (the sequence was just moved past them); audit_log then holds one row more. */
async function appendAudit(client: PoolClient, e: NewAuditEntry, copiedEntries: bigint): Promise<bigint> {
  const { rows } = await client.query<{ id: string }>(
    'INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id::text AS id',
    [e.at.getTime(), e.actor, e.action, e.subject, JSON.stringify(e.detail ?? {})],
  );
  const total = BigInt((await client.query<{ n: string }>('SELECT COUNT(*)::text AS n FROM audit_log')).rows[0]!.n);
  if (total !== copiedEntries + 1n) throw new LedgerCopyError(`audit_log has ${total} rows after the copy's own entry, not ${copiedEntries + 1n}: rolled back, nothing was copied`);
  return BigInt(rows[0]!.id);
}

/**
 * `certmint ledger copy`: the ledger file into the database behind `connection`, migrated first
 * (copySqliteToPostgres says the rest). The file is read in one snapshot and never written.
 */
export async function copyLedgerFileToPostgres(file: string, connection: PostgresConnection, options: LedgerCopyOptions): Promise<LedgerCopyResult> {
  const db = openSnapshotSource(file);
  try {
    await checkPostgresConnection(connection);
    // The migrations' applied_at: the system clock (a CLI copy has no other).
    // eslint-disable-next-line no-restricted-properties
    await migratePostgres(connection.pool, readMigrations(POSTGRES_MIGRATIONS_DIR), Date.now);
    const client = await connection.pool.connect();
    let failure: Error | undefined;
    try {
      return await copySqliteToPostgres(db, client, options);
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      // A client whose transaction failed is closed rather than reused.
      client.release(failure);
    }
  } finally {
    db.close();
  }
}

/**
 * Read only: query_only makes SQLite refuse any change through this connection. Not opened with
 * readonly: a readonly connection to the WAL ledger of a stopped server leaves -wal and -shm
 * behind, owned by whoever ran the copy, which the server's user may then not open (see
 * sqlite/backup.ts). A file the OS lets no one write is opened for reading by SQLite by itself.
 */
function openSnapshotSource(file: string): Database.Database {
  const db = new Database(file, { fileMustExist: true });
  db.pragma('query_only = ON');
  // A server checkpointing at the moment the snapshot starts: wait for it, as the admin commands do.
  db.pragma('busy_timeout = 5000');
  return db;
}
