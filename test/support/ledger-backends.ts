import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import type { CertificateLedger } from '../../src/ledger/ledger.js';
import { readMigrations } from '../../src/ledger/migrate.js';
import { createPostgresPool, type PostgresConnection } from '../../src/ledger/postgres/connect.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from '../../src/ledger/postgres/migrate.js';
import { SqliteLedger } from '../../src/ledger/sqlite/ledger.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from './postgres.js';

/**
 * The ledger contract: one `describe` run against every backend of CertificateLedger.
 *
 *   describeLedger('accounts', (backend) => {
 *     it('…', async () => {
 *       const ledger = await backend.open();
 *       …
 *     });
 *   });
 *
 * SQLite always, on a new file in a temporary directory per test. PostgreSQL on one throw-away
 * cluster per test file (test/support/postgres.ts), a new database per test; missing PostgreSQL
 * skips those suites, or fails the file under CERTMINT_REQUIRE_CLIENTS=1. Each test's database is
 * a copy (CREATE DATABASE … TEMPLATE) of one migrated once per file: 35–70 ms a test, measured
 * against 115–250 ms for an empty database migrated by each test. The harness closes the ledger
 * and removes the file or drops the database after each test.
 */
export type LedgerBackendName = 'sqlite' | 'postgres';

/** The tables both schemas have (postgres-migrate.test.ts holds them to the same list). */
export type LedgerTable =
  | 'accounts' | 'admin_certificates' | 'admin_tokens' | 'audit_log' | 'authorizations' | 'blocked_keys' | 'ca_identity' | 'certificate_chains' | 'certificate_identifiers' | 'certificates'
  | 'challenges' | 'console_sessions' | 'crl_state' | 'eab_keys' | 'order_authorizations' | 'orders' | 'rate_limit_events' | 'readiness_probe'
  | 'renew_early' | 'replacements' | 'outbox_events' | 'outbox_deliveries' | 'subordinate_cas';

export interface LedgerBackend {
  readonly name: LedgerBackendName;
  /**
   * The running test's ledger, on a store of its own (a new file or database, migrated), opened
   * on the first call; later calls in the same test return the same ledger. The harness closes it.
   */
  open(): Promise<CertificateLedger>;
  /** Closes the test's ledger and opens another on the same store: what a restarted server sees. */
  reopen(): Promise<CertificateLedger>;
  /** Rows in one table of the test's store, read past the ledger: for what no method shows (nothing left behind). */
  rawCount(table: LedgerTable): Promise<number>;
  /** How this backend's database words a row it refuses, for `rejects.toThrow`. */
  readonly refusal: { readonly unique: RegExp; readonly check: RegExp };
}

/** One test's file or database. */
interface Store {
  openLedger(): Promise<CertificateLedger>;
  count(table: LedgerTable): Promise<number>;
  /** Called once the ledger is closed. */
  destroy(): Promise<void>;
}

interface BackendKind {
  readonly name: LedgerBackendName;
  readonly refusal: LedgerBackend['refusal'];
  readonly available: () => boolean;
  /** Per test file, before its first store. */
  readonly prepare: () => Promise<void>;
  readonly createStore: () => Promise<Store>;
}

/** Runs `body` once per backend, in a `describe` named "<title> [<backend>]". */
export function describeLedger(title: string, body: (backend: LedgerBackend) => void): void {
  // Wherever this is called (the file's top level, usually): the cluster outlives every suite of it.
  afterAll(stopPostgres, 60_000);
  for (const kind of [sqliteKind, postgresKind]) {
    describe.skipIf(!kind.available())(`${title} [${kind.name}]`, () => {
      beforeAll(kind.prepare, 120_000);
      const backend = testBackend(kind);
      afterEach(backend.cleanUp, 60_000);
      body(backend);
    });
  }
}

function testBackend(kind: BackendKind): LedgerBackend & { cleanUp: () => Promise<void> } {
  // Promises, so calls at once (Promise.all of rawCount) share one store and one ledger.
  let store: Promise<Store> | undefined;
  let ledger: Promise<CertificateLedger> | undefined;
  const storeOfTest = (): Promise<Store> => (store ??= kind.createStore());
  const closeLedger = async (): Promise<void> => {
    const open = ledger;
    ledger = undefined;
    // One that failed to open has nothing to close; its failure was the test's.
    await (await open?.catch(() => undefined))?.close();
  };
  const open = (): Promise<CertificateLedger> => (ledger ??= storeOfTest().then((s) => s.openLedger()));
  return {
    name: kind.name,
    refusal: kind.refusal,
    open,
    async reopen() {
      await closeLedger();
      return open();
    },
    async rawCount(table) {
      return (await storeOfTest()).count(table);
    },
    async cleanUp() {
      const used = store;
      store = undefined;
      try {
        await closeLedger();
      } finally {
        await (await used?.catch(() => undefined))?.destroy();
      }
    },
  };
}

const sqliteKind: BackendKind = {
  name: 'sqlite',
  refusal: { unique: /UNIQUE constraint failed/, check: /CHECK constraint failed/ },
  available: () => true,
  prepare: async () => undefined,
  async createStore() {
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-contract-'));
    const file = path.join(dir, 'ledger.sqlite3');
    return {
      openLedger: async () => new SqliteLedger({ file }),
      async count(table) {
        const db = new Database(file, { readonly: true });
        try {
          return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        } finally {
          db.close();
        }
      },
      destroy: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

interface PostgresShared {
  readonly cluster: PostgresCluster;
  /** On the `postgres` database: creates and drops the tests' databases. */
  readonly admin: pg.Client;
  readonly template: string;
  readonly PostgresLedger: typeof import('../../src/ledger/postgres/ledger.js').PostgresLedger;
}

let postgres: Promise<PostgresShared> | undefined;
let postgresChecked: boolean | undefined;
let databases = 0;

/** Once per file: the cluster, and a migrated database every test's database is copied from. */
function sharedPostgres(): Promise<PostgresShared> {
  postgres ??= (async () => {
    const { PostgresLedger } = await import('../../src/ledger/postgres/ledger.js');
    const cluster = await startPostgres();
    try {
      const template = 'certmint_contract_template';
      const url = await cluster.createDatabase(template);
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        await migratePostgres(pool, readMigrations(POSTGRES_MIGRATIONS_DIR), Date.now);
      } finally {
        // A template must have no sessions when it is copied.
        await pool.end();
      }
      const admin = new pg.Client({ connectionString: cluster.url('postgres') });
      await admin.connect();
      return { cluster, admin, template, PostgresLedger };
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  })();
  return postgres;
}

async function stopPostgres(): Promise<void> {
  const started = postgres;
  postgres = undefined;
  if (started === undefined) return;
  const shared = await started.catch(() => undefined);
  if (shared === undefined) return;
  await shared.admin.end().catch(() => undefined);
  await shared.cluster.stop();
}

const postgresKind: BackendKind = {
  name: 'postgres',
  refusal: { unique: /duplicate key value violates unique constraint/, check: /violates check constraint/ },
  // Asked once per file: a missing PostgreSQL warns (or fails) once, not per suite.
  available: () => (postgresChecked ??= postgresAvailable()),
  async prepare() {
    await sharedPostgres();
  },
  async createStore() {
    const { cluster, admin, template, PostgresLedger } = await sharedPostgres();
    const database = `certmint_contract_${process.pid}_${++databases}`;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} TEMPLATE ${pg.escapeIdentifier(template)}`);
    const url = cluster.url(database);
    const connections: PostgresConnection[] = [];
    let counter: pg.Pool | undefined;
    return {
      async openLedger() {
        const connection = createPostgresPool({ url, poolSize: 4, passwordFile: undefined });
        connections.push(connection);
        return PostgresLedger.open({ connection });
      },
      async count(table) {
        counter ??= new pg.Pool({ connectionString: url, max: 1 });
        const { rows } = await counter.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(table)}`);
        return rows[0]!.n;
      },
      async destroy() {
        // Whether the ledger's close() ended the pool it was given or left that to its owner.
        for (const { pool } of connections) if (!pool.ended) await pool.end();
        await counter?.end();
        await dropDatabase(admin, database);
      },
    };
  },
};

/** A session still open once the ledger and its pools are closed is a leak the test reports. */
async function dropDatabase(admin: pg.Client, database: string): Promise<void> {
  const name = pg.escapeIdentifier(database);
  try {
    await admin.query(`DROP DATABASE ${name}`);
  } catch (e) {
    // 55006 object_in_use: drop it anyway so the next test starts clean, then fail this one.
    if ((e as { code?: string }).code !== '55006') throw e;
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    throw new Error(`sessions on ${database} were still open after the ledger was closed: ${(e as Error).message}`);
  }
}
