import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTMINT_CLI, logCliOutput, requireBuiltCli, runCli, type CliResult } from '../../test/support/cli.js';
import { BIG_CRL_NUMBER, buildLargeLedger, buildRealisticLedger } from '../../test/support/ledger-copy-fixtures.js';
import { certificateRecord } from '../../test/support/ledger-records.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../test/support/postgres.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { readMigrations } from '../ledger/migrate.js';
import { createPostgresPool } from '../ledger/postgres/connect.js';
import { PostgresLedger } from '../ledger/postgres/ledger.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from '../ledger/postgres/migrate.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';

// `certmint ledger copy` (the built binary) from SQLite ledgers built through the ledger API into
// databases of a throw-away PostgreSQL cluster, checked table by table and row by row.
const available = postgresAvailable();

let cluster: PostgresCluster;
let work: string;

/** `certmint ledger copy …` on the SQLite ledger of `dataDir`; longer than runCli's 20 s for the big ledgers. */
function copyCli(dataDir: string, args: readonly string[], env: Record<string, string> = {}, timeout = 20_000): Promise<CliResult & { ms: number }> {
  const argv = ['ledger', 'copy', ...args];
  if (timeout <= 20_000) {
    const started = performance.now();
    return runCli(argv, { CERTMINT_DATA_DIR: dataDir, ...env }).then((r) => ({ ...r, ms: performance.now() - started }));
  }
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CERTMINT_CLI, ...argv], { env: { ...process.env, CERTMINT_DATA_DIR: dataDir, ...env }, timeout }, (err, stdout, stderr) => {
      logCliOutput(argv, stdout, stderr);
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: performance.now() - started });
    });
  });
}

async function withPool<T>(url: string, use: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    return await use(pool);
  } finally {
    await pool.end();
  }
}

const withoutPassword = (url: string): string => {
  const u = new URL(url);
  u.password = '';
  return u.toString();
};

function newDataDir(): string {
  return mkdtempSync(path.join(work, 'data-'));
}

/** A private file holding `text` (the password file convention: mode 0600, one trailing newline). */
function secretFile(text: string, mode = 0o600): string {
  const file = path.join(mkdtempSync(path.join(work, 'secret-')), 'password');
  writeFileSync(file, `${text}\n`);
  chmodSync(file, mode);
  return file;
}

/** The SQLite tables a copy carries over (every one but the migration records), in creation order. */
function sqliteTables(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid`).pluck().all() as string[]).filter((t) => t !== 'schema_migrations' && t !== 'ledger_holders');
  } finally {
    db.close();
  }
}

const sortRows = <T>(rows: T[]): T[] => rows.map((r) => [JSON.stringify(r), r] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);

/**
 * Every SQLite row as PostgreSQL must hold it: 0/1 flags as booleans, BLOBs as the same bytes,
 * integers exact (BIGINT arrives as a string from pg, INTEGER as a number). Compared sorted.
 */
async function expectSameRows(file: string, pool: pg.Pool, table: string, pgFilter = 'TRUE'): Promise<number> {
  const types = new Map(
    (await pool.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, [table])).rows.map((r) => [r.column_name, r.data_type]),
  );
  const db = new Database(file, { readonly: true });
  let sqliteRows: Record<string, unknown>[];
  try {
    sqliteRows = db.prepare(`SELECT * FROM ${table}`).safeIntegers(true).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
  const asPostgres = (column: string, v: unknown): unknown => {
    if (v === null) return null;
    switch (types.get(column)) {
      case 'boolean': return v === 1n ? true : v === 0n ? false : `not a flag: ${String(v)}`;
      case 'bigint': return String(v);
      case 'integer': return Number(v);
      default: return v;
    }
  };
  const expected = sqliteRows.map((r) => Object.fromEntries(Object.entries(r).map(([c, v]) => [c, asPostgres(c, v)])));
  const columns = Object.keys(sqliteRows[0] ?? {}).join(', ') || '*';
  const actual = (await pool.query(`SELECT ${columns} FROM ${table} WHERE ${pgFilter}`)).rows;
  expect(sortRows(actual), table).toEqual(sortRows(expected));
  return expected.length;
}

/** Every table and sequence of a database, as text: what "unchanged" is checked against. */
async function dumpPostgres(url: string): Promise<Record<string, string[]>> {
  return withPool(url, async (pool) => {
    const tables = (await pool.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)).rows;
    const dump: Record<string, string[]> = {};
    for (const { name } of tables) dump[name] = (await pool.query<{ r: string }>(`SELECT t::text AS r FROM ${pg.escapeIdentifier(name)} t ORDER BY 1`)).rows.map((r) => r.r);
    dump['(sequences)'] = (await pool.query<{ r: string }>(`SELECT sequencename || '=' || coalesce(last_value::text, 'unused') AS r FROM pg_sequences ORDER BY 1`)).rows.map((r) => r.r);
    return dump;
  });
}

const oneErrorLine = (r: CliResult) => {
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^certmint: [^\n]+\n$/);
};

describe.skipIf(!available)('certmint ledger copy (a throw-away PostgreSQL cluster)', () => {
  let realistic: string;
  let large: Promise<string> | undefined;
  /** 20,000 certificates, built once for the two tests that need a copy to take a while. */
  const largeLedger = (): Promise<string> =>
    (large ??= (async () => {
      const dataDir = newDataDir();
      await buildLargeLedger(dataDir, 20_000);
      return dataDir;
    })());

  beforeAll(async () => {
    requireBuiltCli();
    work = mkdtempSync(path.join(tmpdir(), 'certmint-ledger-copy-'));
    cluster = await startPostgres();
    realistic = newDataDir();
    await buildRealisticLedger(realistic);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('copies every table row by row (booleans, bytes, ids, a CRL number past 2^53), audits the copy and moves the audit id sequence past the copied ids', async () => {
    const url = await cluster.createDatabase();
    const file = path.join(realistic, 'ledger.sqlite3');
    const r = await copyCli(realistic, ['--to', url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    const tables = sqliteTables(file);
    await withPool(url, async (pool) => {
      const counts: Record<string, number> = {};
      for (const table of tables) {
        counts[table] = await expectSameRows(file, pool, table, table === 'audit_log' ? `action <> 'ledger-copy'` : 'TRUE');
        // The fixture leaves no table empty, so every comparison compares rows.
        expect(counts[table], table).toBeGreaterThan(0);
        expect(r.stdout, table).toMatch(new RegExp(`^  ${table} +${counts[table]}(  |\\n)`, 'm'));
      }
      expect(r.stdout).toMatch(new RegExp(`^${tables.length} tables, ${Object.values(counts).reduce((a, b) => a + b)} rows, in \\d+ ms; every count is the same in SQLite and PostgreSQL; committed$`, 'm'));
      const postgresOnly = (await pool.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)).rows
        .map((x) => x.t).filter((t) => !tables.includes(t) && t !== 'schema_migrations');
      if (postgresOnly.length > 0) expect(r.stdout).toContain(`PostgreSQL-only tables, left empty: ${postgresOnly.join(', ')}`);

      const flags = await pool.query(`SELECT id, tos_agreed FROM accounts ORDER BY id`);
      expect(flags.rows).toEqual([{ id: 'acct-eab', tos_agreed: true }, { id: 'acct-plain', tos_agreed: false }, { id: 'acct-shared', tos_agreed: true }]);
      expect((await pool.query(`SELECT eab_kid FROM accounts WHERE id = 'acct-eab'`)).rows).toEqual([{ eab_kid: 'kid-single' }]);
      expect((await pool.query(`SELECT crl_number, dirty FROM crl_state WHERE issuer = 'intermediate'`)).rows).toEqual([{ crl_number: BIG_CRL_NUMBER.toString(), dirty: false }]);

      const copied = await pool.query<{ id: string; actor: string; subject: string; detail: string }>(`SELECT id, actor, subject, detail FROM audit_log WHERE action = 'ledger-copy'`);
      expect(copied.rows).toHaveLength(1);
      const entry = copied.rows[0]!;
      expect(entry.actor).toMatch(/^operator:./);
      expect(JSON.parse(entry.detail)).toMatchObject({ source: file, tables: counts, schemaVersion: readMigrations().length });
      expect(JSON.parse(entry.detail).target).not.toContain(cluster.password);
      const maxCopied = BigInt((await pool.query<{ m: string }>(`SELECT max(id) AS m FROM audit_log WHERE action <> 'ledger-copy'`)).rows[0]!.m);
      expect(BigInt(entry.id)).toBeGreaterThan(maxCopied);
      expect(r.stdout).toMatch(new RegExp(`^  audit_log +${counts.audit_log}  \\(\\+1: this copy's ledger-copy entry, id ${entry.id}\\)$`, 'm'));
      // What the next certmint writes continues after every id, copied or not.
      const next = await pool.query<{ id: string }>(`INSERT INTO audit_log (at, actor, action, subject) VALUES ($1, 'cli', 'revoke', 'ab12') RETURNING id`, [Date.now()]);
      expect(BigInt(next.rows[0]!.id)).toBeGreaterThan(BigInt(entry.id));
    });
    expect(r.stdout).not.toContain(cluster.password);
  });

  it('the PostgreSQL ledger reads the copy as the SQLite ledger reads the original: a certificate, an account, the audit trail of a serial', async () => {
    const url = await cluster.createDatabase();
    expect((await copyCli(realistic, ['--to', url])).code).toBe(0);
    const sqlite = new SqliteLedger({ file: path.join(realistic, 'ledger.sqlite3'), mustExist: true });
    const postgres = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 2 }) });
    try {
      const revoked = '7fedcba987654321';
      const certificate = await postgres.getCertificate(revoked);
      expect(certificate).toMatchObject({ status: 'revoked', revocationReason: 1, issuerGeneration: 2, accountId: 'acct-shared' });
      expect(certificate).toEqual(await sqlite.getCertificate(revoked));
      const account = await postgres.getAccount('acct-eab');
      expect(account).toMatchObject({ eabKid: 'kid-single', termsOfServiceAgreed: true });
      expect(account).toEqual(await sqlite.getAccount('acct-eab'));
      const trail = await postgres.auditTrail(revoked);
      expect(trail.map((e) => e.action)).toEqual(['issue', 'revoke']);
      // Same entries, same ids.
      expect(trail).toEqual(await sqlite.auditTrail(revoked));
      expect(await postgres.isKeyBlocked(revoked)).toBe(true);
      expect((await postgres.crlState('intermediate', new Date())).crlNumber).toBe(BIG_CRL_NUMBER);
    } finally {
      await postgres.close();
      await sqlite.close();
    }
  });

  it('refuses a target that already holds rows, names the table, and leaves the database as it was', async () => {
    // A copy already there: refused at its first table.
    const url = await cluster.createDatabase();
    expect((await copyCli(realistic, ['--to', url])).code).toBe(0);
    const before = await dumpPostgres(url);
    const again = await copyCli(realistic, ['--to', url]);
    oneErrorLine(again);
    expect(again.stderr).toMatch(/the PostgreSQL ledger is not empty: \w+ holds \d+ rows?; ledger copy fills an empty database only; nothing was copied/);
    expect(await dumpPostgres(url)).toEqual(before);

    // A database with one audit entry and nothing else.
    const other = await cluster.createDatabase();
    await withPool(other, async (pool) => {
      await migratePostgres(pool, readMigrations(POSTGRES_MIGRATIONS_DIR), Date.now);
      await pool.query(`INSERT INTO audit_log (at, actor, action, subject) VALUES (1, 'cli', 'ca-init', 'ca:intermediate-1')`);
    });
    const otherBefore = await dumpPostgres(other);
    const refused = await copyCli(realistic, ['--to', other]);
    oneErrorLine(refused);
    expect(refused.stderr).toContain('the PostgreSQL ledger is not empty: audit_log holds 1 row;');
    expect(await dumpPostgres(other)).toEqual(otherBefore);
  });

  it('rolls everything back when a count differs after the copy (a trigger in the target drops rows)', async () => {
    const url = await cluster.createDatabase();
    await withPool(url, async (pool) => {
      await migratePostgres(pool, readMigrations(POSTGRES_MIGRATIONS_DIR), Date.now);
      await pool.query(`CREATE FUNCTION drop_wildcards() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.identifier_value LIKE '*.%' THEN RETURN NULL; END IF; RETURN NEW; END $$`);
      await pool.query(`CREATE TRIGGER drop_wildcards BEFORE INSERT ON certificate_identifiers FOR EACH ROW EXECUTE FUNCTION drop_wildcards()`);
    });
    const before = await dumpPostgres(url);
    const r = await copyCli(realistic, ['--to', url]);
    oneErrorLine(r);
    expect(r.stderr).toMatch(/certificate_identifiers has \d+ rows in SQLite but \d+ in PostgreSQL after the copy: rolled back, nothing was copied/);
    expect(await dumpPostgres(url)).toEqual(before);
  });

  it('a wrong password: one line naming the server, never the password (stdout, stderr), by URL or by file', async () => {
    const url = await cluster.createDatabase();
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    registerSecrets([wrong]);
    const u = new URL(url);
    u.password = wrong;
    for (const r of [await copyCli(realistic, ['--to', u.toString()]), await copyCli(realistic, ['--to', withoutPassword(url), '--password-file', secretFile(wrong)])]) {
      oneErrorLine(r);
      expect(r.stderr).toContain(`the PostgreSQL ledger at postgres://${cluster.user}`);
      expect(r.stderr).toMatch(/password authentication failed/);
      for (const secret of [wrong, cluster.password]) expect(r.stdout + r.stderr).not.toContain(secret);
    }
    // A password file anyone may read is refused before it is used.
    const loose = await copyCli(realistic, ['--to', withoutPassword(url), '--password-file', secretFile(cluster.password, 0o644)]);
    oneErrorLine(loose);
    expect(loose.stderr).toContain('the ledger password file');
    expect(loose.stdout + loose.stderr).not.toContain(cluster.password);
    expect((await dumpPostgres(url))).toEqual({ '(sequences)': [] });
  });

  it('takes the password from --password-file, or from ledger.passwordFile of the config', async () => {
    const byFlag = await cluster.createDatabase();
    const r = await copyCli(realistic, ['--to', withoutPassword(byFlag), '--password-file', secretFile(cluster.password)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`to ${withoutPassword(byFlag)}:`);

    const byConfig = await cluster.createDatabase();
    const config = path.join(work, 'certmint.yaml');
    writeFileSync(config, `dataDir: ${JSON.stringify(realistic)}\nledger:\n  url: ${JSON.stringify(withoutPassword(byConfig))}\n  passwordFile: ${JSON.stringify(secretFile(cluster.password))}\n`);
    const c = await copyCli(realistic, ['--to', withoutPassword(byConfig), '-c', config]);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    for (const out of [r.stdout, c.stdout]) expect(out).not.toContain(cluster.password);
  });

  it('refuses a data dir without a ledger, and a --to that is not a postgres:// URL, in one line', async () => {
    const url = await cluster.createDatabase();
    const empty = newDataDir();
    const missing = await copyCli(empty, ['--to', url]);
    oneErrorLine(missing);
    expect(missing.stderr).toBe(`certmint: no ledger at ${path.join(empty, 'ledger.sqlite3')}: is dataDir right? (certmint serve creates it on first start)\n`);
    const mysql = await copyCli(realistic, ['--to', `mysql://root:${cluster.password}@127.0.0.1/db`]);
    oneErrorLine(mysql);
    expect(mysql.stderr).toContain('--to must be a postgres:// (or postgresql://) URL');
    expect(mysql.stderr).not.toContain(cluster.password);
  });

  // How long the copy takes is a benchmark figure (npm run bench: "ledger copy to PostgreSQL",
  // target 30 s for 20,000), not a limit here; the 180 s timeout is only a hang guard.
  it('copies 20,000 certificates (40,000 names), every one', async () => {
    const url = await cluster.createDatabase();
    const r = await copyCli(await largeLedger(), ['--to', url], {}, 180_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}certificates +20000$/m);
    expect(r.stdout).toMatch(/^ {2}certificate_identifiers +40000$/m);
    const reported = Number(/in (\d+) ms;/.exec(r.stdout)![1]);
    console.log(`ledger copy of 20,000 certificates: ${reported} ms in the command, ${Math.round(r.ms)} ms with node start-up`);
    await withPool(url, async (pool) => {
      // Every certificate of the fleet names the one chain row (migrations/0028_certificate_chains.sql).
      const sample = await pool.query(`SELECT length(der) AS der, length(ch.pem) > 1400 AS chain, (SELECT COUNT(*) FROM certificate_chains)::int AS chains
        FROM certificates c JOIN certificate_chains ch ON ch.id = c.chain_id WHERE serial = '104e1f'`);
      expect(sample.rows).toEqual([{ der: 900, chain: true, chains: 1 }]);
    });
  }, 300_000);

  it('copies one consistent snapshot while the ledger keeps being written, without holding the writer up', async () => {
    const dataDir = await largeLedger();
    const url = await cluster.createDatabase();
    const file = path.join(dataDir, 'ledger.sqlite3');
    const writer = new SqliteLedger({ file });
    const reader = new Database(file, { readonly: true });
    const before = reader.prepare('SELECT count(*) FROM certificates').pluck().get() as number;
    reader.close();
    let written = 0;
    let copying = true;
    // A server's issuance: each certificate and its names in one transaction; the copy reads certificates before their names.
    const writing = (async () => {
      while (copying) {
        await writer.insertCertificate(certificateRecord(`ff${(written++).toString(16).padStart(8, '0')}`, [`w-${written}.example.internal`, `x-${written}.example.internal`], 30, new Date()));
      }
    })();
    const r = await copyCli(dataDir, ['--to', url], {}, 180_000).finally(() => (copying = false));
    await writing;
    await writer.close();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const copied = Number(/^ {2}certificates +(\d+)$/m.exec(r.stdout)![1]);
    expect(written).toBeGreaterThan(0);
    expect(copied).toBeGreaterThanOrEqual(before);
    expect(copied).toBeLessThan(before + written);
    await withPool(url, async (pool) => {
      const { rows } = await pool.query(`SELECT (SELECT count(*)::int FROM certificates) AS certs, (SELECT count(*)::int FROM certificate_identifiers) AS names`);
      expect(rows[0]).toEqual({ certs: copied, names: 2 * copied });
    });
  }, 300_000);
});
