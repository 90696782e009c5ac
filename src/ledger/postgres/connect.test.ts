import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/ports.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { checkPostgresConnection, createPostgresPool, LedgerConnectionError, readLedgerPassword, type PostgresConnection } from './connect.js';

const available = postgresAvailable();

/** Everything a log line or a crash report could show of an error. */
const printed = (e: unknown): string => `${String(e)}\n${(e as Error).stack ?? ''}\n${inspect(e, { depth: 5 })}\n${JSON.stringify(e)}`;

async function failure(connection: PostgresConnection): Promise<LedgerConnectionError> {
  try {
    const e = await checkPostgresConnection(connection).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(LedgerConnectionError);
    return e as LedgerConnectionError;
  } finally {
    await connection.pool.end();
  }
}

describe('the ledger password file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-pgpass-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is read without its trailing newline, and refused when group or others may read it, or when empty', () => {
    const file = path.join(dir, 'password');
    writeFileSync(file, 's3cret pass\n', { mode: 0o600 });
    expect(readLedgerPassword(file)).toBe('s3cret pass');
    chmodSync(file, 0o640);
    expect(() => readLedgerPassword(file)).toThrow(`has mode 0640: group or others may read or write it, so certmint will not use it. Fix: chmod 600 ${file}`);
    writeFileSync(path.join(dir, 'empty'), '\n', { mode: 0o400 });
    expect(() => readLedgerPassword(path.join(dir, 'empty'))).toThrow(/is empty/);
    expect(() => readLedgerPassword(path.join(dir, 'missing'))).toThrow(/ledger\.passwordFile\) cannot be read: ENOENT/);
  });
});

describe.skipIf(!available)('connecting to the PostgreSQL ledger (a throw-away cluster)', () => {
  let cluster: PostgresCluster;
  let dir: string;
  let database: string;
  beforeAll(async () => {
    cluster = await startPostgres();
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-pgconnect-'));
    database = new URL(await cluster.createDatabase()).pathname.slice(1);
  }, 120_000);
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  }, 60_000);

  const passwordFile = (name: string, password: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    return file;
  };
  const urlWithoutPassword = () => `postgres://${cluster.user}@127.0.0.1:${cluster.port}/${database}`;

  it('logs in with the password from ledger.passwordFile and keeps at most ledger.poolSize connections', async () => {
    const connection = createPostgresPool({ url: urlWithoutPassword(), passwordFile: passwordFile('right', cluster.password), poolSize: 3 });
    try {
      await checkPostgresConnection(connection);
      // Ten queries at once that each hold their connection for a moment: the server sees three of ours.
      const seen = await Promise.all(
        Array.from({ length: 10 }, () =>
          connection.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity, pg_sleep(0.2) WHERE application_name = 'certmint' AND datname = current_database()`,
          ),
        ),
      );
      expect(Math.max(...seen.map((r) => r.rows[0]!.n))).toBe(3);
      expect(connection.pool.totalCount).toBe(3);
    } finally {
      await connection.pool.end();
    }
  });

  it('a wrong password from the file fails with PostgreSQL\'s reason and without the password', async () => {
    const wrong = 'Wr0ng-Secret-From-File';
    const e = await failure(createPostgresPool({ url: urlWithoutPassword(), passwordFile: passwordFile('wrong', wrong), poolSize: 2 }));
    expect(e.code).toBe('28P01');
    expect(e.message).toMatch(`the PostgreSQL ledger at ${urlWithoutPassword()}: password authentication failed for user "${cluster.user}"`);
    expect(printed(e)).not.toContain(wrong);
  });

  it('a wrong password in the URL fails without the password, in the message or in the stack', async () => {
    const wrong = 'Wr0ng:Secret@In/Url';
    const url = `postgres://${cluster.user}:${encodeURIComponent(wrong)}@127.0.0.1:${cluster.port}/${database}`;
    const e = await failure(createPostgresPool({ url, passwordFile: undefined, poolSize: 2 }));
    expect(e.code).toBe('28P01');
    expect(e.message).toContain(`postgres://${cluster.user}:…@127.0.0.1:${cluster.port}/${database}`);
    expect(printed(e)).not.toContain(wrong);
    expect(printed(e)).not.toContain(encodeURIComponent(wrong));
  });

  it('an unreachable server fails with the system\'s reason and without the password', async () => {
    const closedPort = await freePort();
    const file = passwordFile('unreachable', cluster.password);
    const e = await failure(createPostgresPool({ url: `postgres://${cluster.user}@127.0.0.1:${closedPort}/${database}`, passwordFile: file, poolSize: 1 }));
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(printed(e)).not.toContain(cluster.password);
  });
});
