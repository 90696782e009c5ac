import pg from 'pg';
import type { PostgresConnection } from './connect.js';

/** A statement the ledger runs: named ones are parsed once per connection and reused. */
export type Statement = { readonly name?: string; readonly text: string };

/**
 * A named statement. Names must be unique per text, and short: PostgreSQL cuts them at 63 bytes.
 * The prefix keeps them apart from other users of the pool.
 */
export function statement(name: string, text: string): Statement {
  return { name: `ledger.${name}`, text };
}

/** What the ledger's modules run statements through: the pool, or one transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(s: Statement, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
  /** Rows as arrays, in column order: no object per row, for long lists. */
  queryArrays<R extends unknown[]>(s: Statement, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

/** serialization_failure and deadlock_detected: the transaction lost a race and may simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Attempts of one transaction that keeps losing races before the error propagates. Each lost
 * race means another transaction on the same rows committed, so the ledger makes progress.
 */
export const MAX_TRANSACTION_ATTEMPTS = 8;

function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

/**
 * The ledger's way to PostgreSQL. Single reads go through the pool; a change runs in a
 * transaction on one client, retried at once when it loses a serialization race. Every error
 * from pg leaves as the connection's redacted LedgerConnectionError (SQLSTATE kept in `code`);
 * errors the ledger throws itself (AcmeProblem) pass unchanged.
 */
export class PostgresSession implements Queryable {
  /** Transactions run again after a serialization failure or deadlock, since open: for tests and diagnostics. */
  retries = 0;

  constructor(private readonly connection: PostgresConnection) {}

  query<R extends pg.QueryResultRow>(s: Statement, values?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    return run(this.connection, this.connection.pool, s, values, false);
  }

  queryArrays<R extends unknown[]>(s: Statement, values?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    return run(this.connection, this.connection.pool, s, values, true);
  }

  /**
   * `work` at SERIALIZABLE: it decides something (a state change that must happen once), so two
   * instances racing on the same rows cannot both win. Retried from the start on 40001/40P01, up
   * to MAX_TRANSACTION_ATTEMPTS; `work` must therefore only touch the database.
   */
  serializable<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL SERIALIZABLE', work);
  }

  /** `work` reading only, at REPEATABLE READ: several reads that must see one snapshot. */
  repeatableRead<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
  }

  /** `work` at READ COMMITTED: several writes that only need to commit together. */
  atomic<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN ISOLATION LEVEL READ COMMITTED', work);
  }

  private async transaction<T>(begin: string, work: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let broken: Error | undefined;
      // The pool listens for errors of idle clients only: one that breaks between two of our
      // queries would otherwise be an unhandled 'error' event, which ends the process.
      const onError = (e: Error): void => {
        broken = e;
      };
      client.on('error', onError);
      try {
        const tx = clientQueryable(this.connection, client);
        await tx.query({ text: begin });
        const result = await work(tx);
        await tx.query({ text: 'COMMIT' });
        return result;
      } catch (e) {
        broken ??= await rollback(client);
        if (retryable(e) && attempt < MAX_TRANSACTION_ATTEMPTS) {
          this.retries++;
          continue;
        }
        throw e;
      } finally {
        client.removeListener('error', onError);
        // A client that broke, or whose ROLLBACK failed, is in an unknown state: pg closes it instead of pooling it.
        client.release(broken);
      }
    }
  }

  /**
   * A connection of its own, outside the pool (which it never takes a slot of, however small
   * ledger.poolSize is), with the pool's settings: for LISTEN. Connected; the caller ends it.
   */
  async dedicatedClient(): Promise<pg.Client> {
    const client = new pg.Client(this.connection.pool.options);
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw this.connection.redact(e);
    }
    return client;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.connection.pool.connect();
    } catch (e) {
      throw this.connection.redact(e);
    }
  }
}

/**
 * Ends the transaction after a failure. After a successful ROLLBACK the connection is clean and
 * goes back to the pool (a retry then needs no new login); when even that fails (the connection
 * broke, or is stuck), the error is returned so the caller releases the client with it.
 */
async function rollback(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

function clientQueryable(connection: PostgresConnection, client: pg.PoolClient): Queryable {
  return {
    query: (s, values) => run(connection, client, s, values, false),
    queryArrays: (s, values) => run(connection, client, s, values, true),
  };
}

async function run<R extends pg.QueryResultRow>(
  connection: PostgresConnection,
  on: pg.Pool | pg.PoolClient,
  s: Statement,
  values: readonly unknown[] | undefined,
  arrays: boolean,
): Promise<pg.QueryResult<R>> {
  const config: pg.QueryConfig = {
    text: s.text,
    ...(s.name !== undefined ? { name: s.name } : {}),
    // pg only reads the values; its typings ask for a mutable array.
    ...(values !== undefined ? { values: values as unknown[] } : {}),
  };
  try {
    if (!arrays) return await on.query<R>(config);
    // The rows' shape is the caller's R either way; pg types array rows through a separate overload.
    return (await on.query({ ...config, rowMode: 'array' })) as unknown as pg.QueryResult<R>;
  } catch (e) {
    throw connection.redact(e);
  }
}
