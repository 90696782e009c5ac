import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../core/problem.js';
import { freePort } from '../../../test/support/ports.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { accountRecord } from '../../../test/support/ledger-records.js';
import { createPostgresPool, LedgerConnectionError, type PostgresConnection } from './connect.js';
import { ledgerUnreachable } from './errors.js';
import { PostgresLedger } from './ledger.js';

const available = postgresAvailable();
const now = new Date('2026-01-01T00:00:00Z');

const connect = (url: string, poolSize = 2): PostgresConnection => createPostgresPool({ url, passwordFile: undefined, poolSize });
const caught = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

/** A local TCP server that does `onSocket` to each connection: a database that never answers, or hangs up. */
async function fakeServer(onSocket: (s: Socket) => void): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server, sockets };
}

describe('ledgerUnreachable, on errors no test causes cheaply', () => {
  it('is true for class 08, shutdown and too-many-connections SQLSTATEs and network errnos, raw or wrapped', () => {
    const codes = ['08006', '08001', '08P01', '57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'];
    for (const code of codes) {
      expect(ledgerUnreachable(Object.assign(new Error('gone'), { code }))).toBe(true);
      expect(ledgerUnreachable(new LedgerConnectionError('the PostgreSQL ledger at postgres://x: gone', code))).toBe(true);
    }
    expect(ledgerUnreachable(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
    expect(ledgerUnreachable(new LedgerConnectionError('the PostgreSQL ledger at postgres://x: Connection terminated', undefined))).toBe(true);
  });

  it('is false for refused statements, lost races, errors of certmint itself and what is not an error', () => {
    for (const code of ['40001', '40P01', '23505', '23514', '42P01', '28P01', undefined]) {
      expect(ledgerUnreachable(Object.assign(new Error('refused'), { code }))).toBe(false);
    }
    expect(ledgerUnreachable(new LedgerConnectionError('the PostgreSQL ledger at postgres://x: Connection terminated by a test', undefined))).toBe(false);
    expect(ledgerUnreachable(new AcmeProblem('unauthorized', 'no'))).toBe(false);
    expect(ledgerUnreachable('ECONNREFUSED')).toBe(false);
    expect(ledgerUnreachable(undefined)).toBe(false);
  });
});

describe.skipIf(!available)('ledgerUnreachable, against real failures (a throw-away cluster)', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop(), 60_000);

  it('is true for a port nothing listens on, raw and as the ledger reports it', async () => {
    const url = `postgres://${cluster.user}:${cluster.password}@127.0.0.1:${await freePort()}/postgres`;
    const raw = new pg.Pool({ connectionString: url, max: 1 });
    const rawError = await caught(raw.query('SELECT 1'));
    await raw.end();
    expect((rawError as { code?: string }).code).toBe('ECONNREFUSED');
    expect(ledgerUnreachable(rawError)).toBe(true);
    const connection = connect(url);
    const opened = await caught(PostgresLedger.open({ connection }));
    await connection.pool.end();
    expect(opened).toBeInstanceOf(LedgerConnectionError);
    expect(ledgerUnreachable(opened)).toBe(true);
    expect(String(opened)).not.toContain(cluster.password);
  });

  it('is true when the server ends the session of a waiting transaction (57P01); the broken connection is not reused', async () => {
    const url = await cluster.createDatabase();
    const ledger = await PostgresLedger.open({ connection: connect(url, 1) });
    await ledger.createEabKey({ kid: 'k', label: 'l', hmacSealed: new Uint8Array([1]), reusable: true, createdAt: now }, 'cli');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // The ledger's revocation waits for a row lock another session holds; then its session is ended.
      await admin.query('BEGIN');
      await admin.query(`SELECT 1 FROM eab_keys WHERE kid = 'k' FOR UPDATE`);
      const revoking = caught(ledger.revokeEabKey('k', now, 'cli'));
      const waiting = `FROM pg_stat_activity WHERE application_name = 'certmint' AND datname = current_database() AND wait_event_type = 'Lock'`;
      await expect.poll(async () => (await admin.query(`SELECT count(*)::int AS n ${waiting}`)).rows[0].n).toBe(1);
      await admin.query(`SELECT pg_terminate_backend(pid) ${waiting}`);
      const terminated = await revoking;
      expect(terminated).toBeInstanceOf(LedgerConnectionError);
      expect((terminated as LedgerConnectionError).code).toBe('57P01');
      expect(ledgerUnreachable(terminated)).toBe(true);
      await admin.query('ROLLBACK');
      // A pool of one: the next call works only if the broken connection was dropped.
      expect(await ledger.revokeEabKey('k', now, 'cli')).toBe(true);
    } finally {
      await admin.end();
      await ledger.close();
    }
  });

  it('is true for every call of a ledger whose cluster stopped', async () => {
    const doomed = await startPostgres();
    const ledger = await PostgresLedger.open({ connection: connect(await doomed.createDatabase()) });
    try {
      await ledger.createAccount(accountRecord('a1', 't1', now));
      await doomed.stop();
      const failures = [
        await caught(ledger.getAccount('a1')),
        await caught(ledger.revokeCertificate({ serial: 'x', reason: 0, revokedAt: now, blockKey: false, actor: 'cli' })),
      ];
      for (const e of failures) {
        expect(e).toBeInstanceOf(LedgerConnectionError);
        expect(ledgerUnreachable(e)).toBe(true);
      }
    } finally {
      await doomed.stop();
      await ledger.close();
    }
  }, 60_000);

  it("is true for pg's own errors: a server that never answers, one that hangs up, a pool that cannot get a connection", async () => {
    const silent = await fakeServer(() => undefined);
    const hangsUp = await fakeServer((s) => s.destroy());
    try {
      const slow = new pg.Pool({ host: '127.0.0.1', port: silent.port, connectionTimeoutMillis: 200, max: 1 });
      const timeout = await caught(slow.query('SELECT 1'));
      await slow.end();
      expect((timeout as Error).message).toBe('Connection terminated due to connection timeout');
      expect(ledgerUnreachable(timeout)).toBe(true);

      const busy = new pg.Pool({ connectionString: await cluster.createDatabase(), connectionTimeoutMillis: 200, max: 1 });
      const held = await busy.connect();
      const exhausted = await caught(busy.query('SELECT 1'));
      held.release();
      await busy.end();
      expect((exhausted as Error).message).toBe('timeout exceeded when trying to connect');
      expect(ledgerUnreachable(exhausted)).toBe(true);

      const connection = connect(`postgres://u:pw@127.0.0.1:${hangsUp.port}/db`, 1);
      const hungUp = await caught(PostgresLedger.open({ connection }));
      await connection.pool.end();
      expect(hungUp).toBeInstanceOf(LedgerConnectionError);
      expect((hungUp as Error).message).toMatch(/: Connection terminated unexpectedly$/);
      expect(ledgerUnreachable(hungUp)).toBe(true);
    } finally {
      for (const f of [silent, hangsUp]) {
        for (const s of f.sockets) s.destroy();
        f.server.close();
      }
    }
  });

  it('is false for a statement the database refused', async () => {
    const ledger = await PostgresLedger.open({ connection: connect(await cluster.createDatabase()) });
    try {
      const key = { kid: 'k', label: 'l', hmacSealed: new Uint8Array([1]), reusable: true, createdAt: now };
      await ledger.createEabKey(key, 'cli');
      const duplicate = await caught(ledger.createEabKey(key, 'cli'));
      expect(duplicate).toBeInstanceOf(LedgerConnectionError);
      expect((duplicate as LedgerConnectionError).code).toBe('23505');
      expect(ledgerUnreachable(duplicate)).toBe(false);
    } finally {
      await ledger.close();
    }
  });
});
