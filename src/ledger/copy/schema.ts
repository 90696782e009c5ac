import type Database from 'better-sqlite3';
import type { PoolClient } from 'pg';

/** What `ledger copy` needs to know of one PostgreSQL table, read from the catalog. */
export interface TargetTable {
  readonly name: string;
  readonly columns: readonly TargetColumn[];
  readonly primaryKey: readonly string[];
  readonly foreignKeys: readonly { readonly columns: readonly string[]; readonly references: string }[];
}

export interface TargetColumn {
  readonly name: string;
  /** format_type(): 'text', 'bigint', 'boolean', 'bytea', … (also the element type of the unnest array). */
  readonly type: string;
  readonly notNull: boolean;
  readonly identity: boolean;
  /** The sequence behind an identity or serial column, to move past the copied ids. */
  readonly sequence: string | null;
}

/** A shared table in the order it is copied, with the foreign-key columns filled in afterwards (cycles). */
export interface CopyStep {
  readonly table: TargetTable;
  /** The columns copied: every column of the SQLite table (the target may have more, left to their defaults). */
  readonly columns: readonly TargetColumn[];
  /** Nullable foreign-key columns inserted as NULL and set once every table is in (they close a cycle). */
  readonly deferred: readonly string[];
}

export class LedgerCopyError extends Error {
  override name = 'LedgerCopyError';
}

/**
 * Each ledger records its own migrations (`ledger copy` compares their versions instead of copying
 * them) and, on SQLite, the worker processes serving it (ledger_holders: nothing to carry over).
 */
export const OWN_TABLES = ['schema_migrations', 'ledger_holders'];

/** The tables of the connection's current schema (where migratePostgres created the ledger). */
export async function readTargetTables(client: PoolClient): Promise<Map<string, TargetTable>> {
  const columns = await client.query<{ table: string; column: string; type: string; not_null: boolean; identity: boolean; sequence: string | null }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            a.attidentity <> '' AS identity, pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS sequence
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
  );
  const constraints = await client.query<{ table: string; kind: 'p' | 'f'; references: string | null; columns: string[] }>(
    `SELECT t.relname AS table, c.contype AS kind, r.relname AS references,
            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_class r ON r.oid = c.confrelid
      WHERE c.contype IN ('p', 'f') AND t.relnamespace = current_schema()::regnamespace
      ORDER BY t.relname, c.conname`,
  );
  const tables = new Map<string, { name: string; columns: TargetColumn[]; primaryKey: string[]; foreignKeys: { columns: string[]; references: string }[] }>();
  for (const c of columns.rows) {
    let t = tables.get(c.table);
    if (!t) tables.set(c.table, (t = { name: c.table, columns: [], primaryKey: [], foreignKeys: [] }));
    t.columns.push({ name: c.column, type: c.type, notNull: c.not_null, identity: c.identity, sequence: c.sequence });
  }
  for (const k of constraints.rows) {
    const t = tables.get(k.table);
    if (!t) continue;
    if (k.kind === 'p') t.primaryKey = k.columns;
    else if (k.references !== null) t.foreignKeys.push({ columns: k.columns, references: k.references });
  }
  return tables;
}

/** The SQLite ledger's tables in creation order, with their columns. */
export function readSourceTables(db: Database.Database): Map<string, string[]> {
  const names = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid`).pluck().all() as string[];
  return new Map(names.map((n) => [n, db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(n) as string[]]));
}

/**
 * The tables both ledgers have, in an order that inserts every referenced row before the rows that
 * reference it. Derived from the target's foreign keys rather than a hand list, so a table a later
 * migration adds is copied in its place without a change here. A cycle (accounts.eab_kid →
 * eab_keys, eab_keys.bound_account_id → accounts) is broken at the first table in SQLite's
 * creation order whose open references are nullable: those columns are inserted as NULL and set
 * once every table is in. A table or column only the SQLite ledger has would be lost: refused.
 */
export function planCopy(source: ReadonlyMap<string, readonly string[]>, target: ReadonlyMap<string, TargetTable>): { steps: CopyStep[]; targetOnly: string[] } {
  const shared: CopyStep[] = [];
  for (const [name, sourceColumns] of source) {
    if (OWN_TABLES.includes(name)) continue;
    const table = target.get(name);
    if (!table) throw new LedgerCopyError(`the SQLite ledger has a table ${name} that the PostgreSQL schema lacks: its rows would be lost; nothing was copied`);
    const columns = sourceColumns.map((c) => {
      const column = table.columns.find((t) => t.name === c);
      if (!column) throw new LedgerCopyError(`the SQLite ledger has a column ${name}.${c} that the PostgreSQL schema lacks: it would be lost; nothing was copied`);
      return column;
    });
    shared.push({ table, columns, deferred: [] });
  }
  const targetOnly = [...target.keys()].filter((t) => !source.has(t) && !OWN_TABLES.includes(t)).sort();

  const steps: CopyStep[] = [];
  const placed = new Set<string>();
  const copied = (name: string) => placed.has(name) || !shared.some((s) => s.table.name === name);
  const open = (s: CopyStep) => s.table.foreignKeys.filter((fk) => !copied(fk.references) && fk.columns.some((c) => s.columns.some((k) => k.name === c)));
  let remaining = shared;
  while (remaining.length > 0) {
    const ready = remaining.filter((s) => open(s).length === 0);
    let next: CopyStep[];
    if (ready.length > 0) {
      next = ready;
    } else {
      const breakable = remaining.find((s) => s.table.primaryKey.length > 0 && open(s).every((fk) => fk.columns.every((c) => !s.table.columns.find((k) => k.name === c)?.notNull)));
      if (!breakable) throw new LedgerCopyError(`the foreign keys of ${remaining.map((s) => s.table.name).join(', ')} form a cycle of NOT NULL columns: no order can copy them; nothing was copied`);
      next = [{ ...breakable, deferred: open(breakable).flatMap((fk) => fk.columns) }];
    }
    for (const s of next) {
      steps.push(s);
      placed.add(s.table.name);
    }
    remaining = remaining.filter((s) => !placed.has(s.table.name));
  }
  return { steps, targetOnly };
}

/** SQL identifier, double-quoted. */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The value PostgreSQL's column takes for `v` as better-sqlite3 reads it with safeIntegers (every
 * integer a bigint, so CRL numbers past 2^53 stay exact): SQLite's 0/1 flags become booleans,
 * BLOBs stay bytes. Anything else is refused rather than guessed.
 */
export function converterFor(table: string, column: TargetColumn): (v: unknown) => unknown {
  const refuse = (v: unknown): never => {
    const what = Buffer.isBuffer(v) ? `${v.length} bytes` : typeof v === 'string' ? `the text ${JSON.stringify(v.slice(0, 40))}` : `the ${typeof v} ${String(v)}`;
    throw new LedgerCopyError(`${table}.${column.name} holds ${what} where PostgreSQL has ${column.type}: nothing was copied`);
  };
  switch (column.type) {
    case 'boolean':
      return (v) => (v === null ? null : v === 0n ? false : v === 1n ? true : refuse(v));
    case 'bytea':
      return (v) => (v === null || Buffer.isBuffer(v) ? v : refuse(v));
    case 'smallint':
    case 'integer':
    case 'bigint':
      return (v) => (v === null || typeof v === 'bigint' ? v : refuse(v));
    case 'text':
      return (v) => (v === null || typeof v === 'string' ? v : refuse(v));
    default:
      return (v) => v;
  }
}
