import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeProblem } from '../../core/problem.js';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { accountRecord, authorizationRecord, certificateRecord, validateChallenge } from '../../../test/support/ledger-records.js';
import { readMigrations } from '../migrate.js';
import { createPostgresPool, type PostgresConnection } from './connect.js';
import { PostgresLedger } from './ledger.js';
import { POSTGRES_MIGRATIONS_DIR } from './migrate.js';
import { PROCESSING_LEASE_MS } from './orders.js';
import { PostgresSharedState } from './shared-state.js';
import { MAX_TRANSACTION_ATTEMPTS, PostgresSession } from './transaction.js';
import type { NewOrder } from '../records.js';

const available = postgresAvailable();
const now = new Date('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;
const POOL_SIZE = 5;

/** What a promise settled to: its value, or the thrown error's ACME problem type or message. */
const outcome = (r: PromiseSettledResult<unknown>): unknown =>
  r.status === 'fulfilled' ? r.value : r.reason instanceof AcmeProblem ? r.reason.type : String(r.reason);

const connect = (url: string, poolSize = POOL_SIZE): PostgresConnection => createPostgresPool({ url, passwordFile: undefined, poolSize });

/** Every connection of the pool open, so a race starts on all of them at once rather than in login order. */
async function warm(connection: PostgresConnection): Promise<void> {
  await Promise.all(Array.from({ length: POOL_SIZE }, () => connection.pool.query('SELECT pg_sleep(0.02)')));
}

const order = (id: string, extra: Partial<NewOrder> = {}): NewOrder => ({
  id,
  accountId: 'a1',
  identifiers: [{ type: 'dns', value: 'race.example' }],
  notBefore: undefined,
  notAfter: undefined,
  expires: new Date(now.getTime() + HOUR),
  createdAt: now,
  authorizationIds: [],
  ...extra,
});

describe.skipIf(!available)('PostgresLedger (a throw-away cluster)', () => {
  let cluster: PostgresCluster;
  beforeAll(async () => {
    cluster = await startPostgres();
  }, 120_000);
  afterAll(async () => cluster?.stop(), 60_000);

  /** A fresh database and a raw pool on it for what no ledger method shows. */
  async function database(): Promise<{ url: string; raw: pg.Pool }> {
    const url = await cluster.createDatabase();
    return { url, raw: new pg.Pool({ connectionString: url, max: 1 }) };
  }

  it('open applies the migrations; a second open of the same database finds them applied; close ends the pool, twice', async () => {
    const { url, raw } = await database();
    const first = await PostgresLedger.open({ connection: connect(url), now: () => now.getTime() });
    const second = await PostgresLedger.open({ connection: connect(url) });
    try {
      const versions = await raw.query<{ version: number; applied_at: string }>('SELECT version, applied_at FROM schema_migrations ORDER BY version');
      expect(versions.rows.map((r) => r.version)).toEqual(readMigrations(POSTGRES_MIGRATIONS_DIR).map((m) => m.version));
      expect(new Set(versions.rows.map((r) => Number(r.applied_at)))).toEqual(new Set([now.getTime()]));
      await first.createAccount(accountRecord('a1', 't1', now));
      expect((await second.getAccount('a1'))?.keyThumbprint).toBe('t1');
    } finally {
      await first.close();
      await first.close();
      await second.close();
      await raw.end();
    }
  });

  it('keeps BIGINT and BYTEA exact: a CRL number past 2^53, millisecond times, a DER with every byte value', async () => {
    const { url, raw } = await database();
    const ledger = await PostgresLedger.open({ connection: connect(url) });
    try {
      const past53 = 2n ** 53n + 1n;
      await raw.query(`UPDATE crl_state SET crl_number = $1 WHERE issuer = 'intermediate'`, [past53.toString()]);
      const lease = { holder: 'h', now, until: new Date(now.getTime() + 60_000) };
      const claimed = await ledger.claimCrlNumber('intermediate', lease);
      expect(claimed).toBe(past53 + 1n);
      const crlDer = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
      await ledger.recordCrl('intermediate', { crlNumber: claimed!, thisUpdate: now, nextUpdate: new Date(now.getTime() + HOUR), der: crlDer });
      const state = await ledger.crlState('intermediate', now);
      expect(state).toEqual({ crlNumber: past53 + 1n, dirty: false, thisUpdate: now, nextUpdate: new Date(now.getTime() + HOUR), der: crlDer });

      await ledger.createAccount(accountRecord('a1', 't1', now));
      const der = Uint8Array.from({ length: 256 }, (_, i) => i);
      const notAfter = new Date(Date.UTC(2199, 11, 31, 23, 59, 59, 999));
      await ledger.insertCertificate({ ...certificateRecord('0a', ['a.example'], 1, now), der, notAfter });
      const cert = await ledger.getCertificate('0a');
      expect(cert?.der).toEqual(der);
      expect(cert?.notAfter).toEqual(notAfter);
      expect(await ledger.lastNotAfter(1)).toEqual(notAfter);
      // Counts are BIGINT too: numbers, not strings.
      expect((await ledger.listAccounts(10))[0]?.certificates).toBe(1);
      expect(await ledger.liveCertificatesByGeneration(now)).toEqual(new Map([[1, 1]]));
      expect(await ledger.certificateCounts(now, [HOUR, 1000 * 86_400_000 * 365])).toMatchObject({ expiringWithin: [0, 1], revokedUnexpired: 0 });
    } finally {
      await ledger.close();
      await raw.end();
    }
  });

  it('lists in byte order, as SQLite does, on a database whose collation sorts otherwise', async () => {
    const name = `certmint_icu_${process.pid}`;
    const admin = new pg.Client({ connectionString: cluster.url('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
    } finally {
      await admin.end();
    }
    const ledger = await PostgresLedger.open({ connection: connect(cluster.url(name)) });
    try {
      await ledger.createAccount(accountRecord('a1', 't1', now));
      for (const id of ['a', 'B', 'b', 'A']) await ledger.createOrder(order(id), []);
      // Byte order, newest first: every lower-case id before every upper-case one. en-US interleaves them (B, b, A, a).
      expect(await ledger.listAccountOrderIds('a1', 10)).toEqual(['b', 'a', 'B', 'A']);
      expect(await ledger.listAccountOrderIds('a1', 10, 'a')).toEqual(['B', 'A']);
    } finally {
      await ledger.close();
    }
  });

  it('rate-limit events past the window: a take clears its own subject\'s, housekeeping everyone else\'s and the empty subjects', async () => {
    const { url, raw } = await database();
    const ledger = await PostgresLedger.open({ connection: connect(url) });
    const connection = connect(url);
    const shared = new PostgresSharedState(new PostgresSession(connection));
    const rows = async (subject: string, table = 'rate_limit_events') =>
      Number((await raw.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE subject = $1`, [subject])).rows[0]!.n);
    try {
      // Asked about no window yet: nothing is known to be past one.
      expect(await shared.forgetExpired(now.getTime() + 10 * HOUR)).toBe(0);
      for (const subject of ['192.0.2.1', '192.0.2.2']) expect((await shared.takeRateLimits([{ scope: 'new-account', subject, limit: 5 }], now, HOUR)).taken).toBe(true);
      const later = new Date(now.getTime() + HOUR);
      expect((await shared.takeRateLimits([{ scope: 'new-account', subject: '192.0.2.1', limit: 5 }], later, HOUR)).taken).toBe(true);
      // The take for .1 cleared .1's expired event only.
      expect([await rows('192.0.2.1'), await rows('192.0.2.2')]).toEqual([1, 1]);
      expect(await shared.forgetExpired(later.getTime())).toBe(1);
      expect([await rows('192.0.2.1'), await rows('192.0.2.2')]).toEqual([1, 0]);
      // The subject left without events goes too; the other keeps its lock row.
      expect([await rows('192.0.2.1', 'rate_limit_subjects'), await rows('192.0.2.2', 'rate_limit_subjects')]).toEqual([1, 0]);
      // Still in its window: kept, and counted.
      expect(await ledger.takeRateLimit('new-account', '192.0.2.1', new Date(later.getTime() + 1), 1, HOUR)).toMatchObject({ taken: false });
    } finally {
      await connection.pool.end();
      await ledger.close();
      await raw.end();
    }
  });

  describe('two instances (two pools) on one database', () => {
    let url: string;
    let raw: pg.Pool;
    let one: PostgresLedger;
    let two: PostgresLedger;
    let pools: PostgresConnection[];
    /** Retried transactions over every race below: at least one must have happened. */
    let retries = 0;

    beforeAll(async () => {
      ({ url, raw } = await database());
      pools = [connect(url), connect(url)];
      one = await PostgresLedger.open({ connection: pools[0]! });
      two = await PostgresLedger.open({ connection: pools[1]! });
      await one.createAccount(accountRecord('a1', 't1', now));
    });
    afterAll(async () => {
      await one?.close();
      await two?.close();
      await raw?.end();
    });

    /** `attempt(ledger, i)` n times at once, alternating between the two instances. */
    async function race<T>(n: number, attempt: (ledger: PostgresLedger, i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
      await Promise.all(pools.map(warm));
      const before = one.retriedTransactions + two.retriedTransactions;
      const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => attempt(i % 2 === 0 ? one : two, i)));
      retries += one.retriedTransactions + two.retriedTransactions - before;
      return results;
    }

    const count = async (sql: string, values: unknown[] = []): Promise<number> =>
      Number((await raw.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, values)).rows[0]!.n);

    it('20 finalize attempts for one order issue exactly one certificate', async () => {
      await one.createOrder(order('o-final', { authorizationIds: ['z1'] }), [authorizationRecord('z1', 'a1', 'race.example', now)]);
      await validateChallenge(one, 'z1', { validatedAt: now, expires: new Date(now.getTime() + 86_400_000) });
      const results = await race(20, async (ledger, i) => {
        if (!(await ledger.beginFinalize('o-final'))) return 'not begun';
        return (await ledger.completeFinalize('o-final', { ...certificateRecord(`f${i}`, ['race.example'], 90, now), orderId: 'o-final' }, now)).outcome;
      });
      expect(results.map(outcome).sort()).toEqual(['issued', ...Array(19).fill('not begun')]);
      expect(await count(`certificates WHERE order_id = 'o-final'`)).toBe(1);
      const finished = await two.getOrder('o-final');
      expect(finished?.status).toBe('valid');
      expect(await count(`audit_log WHERE action = 'issue' AND subject = $1`, [finished?.certificateSerial])).toBe(1);
    });

    it('revoking one certificate at once from both instances revokes it once', async () => {
      await one.insertCertificate(certificateRecord('r1', ['revoke.example'], 90, now));
      const results = await race(12, (ledger, i) =>
        ledger.revokeCertificate({ serial: 'r1', reason: 1, revokedAt: new Date(now.getTime() + i), blockKey: true, actor: `actor-${i}` }),
      );
      expect(results.map(outcome).sort()).toEqual([...Array(11).fill('alreadyRevoked'), 'revoked']);
      expect(await count(`audit_log WHERE action = 'revoke' AND subject = 'r1'`)).toBe(1);
      expect(await one.isKeyBlocked('r1')).toBe(true);
      expect((await two.crlState('intermediate', now)).dirty).toBe(true);
    });

    it('a single-use EAB key binds exactly one of the accounts created with it at once', async () => {
      const key = { kid: 'k-once', label: 'once', hmacSealed: new Uint8Array([9]), reusable: false, createdAt: now };
      await one.createEabKey(key, 'cli');
      const results = await race(12, (ledger, i) => ledger.createAccount({ ...accountRecord(`eab-${i}`, `eab-t${i}`, now), eabKid: 'k-once' }));
      const created = results.filter((r) => r.status === 'fulfilled');
      expect(created).toHaveLength(1);
      expect(results.map(outcome).filter((o) => o === 'unauthorized')).toHaveLength(11);
      const winner = (created[0] as PromiseFulfilledResult<{ account: { id: string } }>).value.account.id;
      expect(await two.getEabKey('k-once')).toMatchObject({ boundAccountId: winner, bindings: 1 });
      // Nothing of the refused ones was written: no account, no audit entry.
      expect(await count(`accounts WHERE eab_kid = 'k-once'`)).toBe(1);
      expect(await count(`audit_log WHERE action IN ('account-create', 'eab-bind') AND actor LIKE 'account:eab-%'`)).toBe(2);
    });

    it('CRL numbers claimed at once are distinct and increasing; of builders racing for the lease, one takes it', async () => {
      const shared = { holder: 'every-builder', now, until: new Date(now.getTime() + 60_000) };
      // Each claim updates the row, so each round of the race has one winner and the others run again:
      // with at most MAX_TRANSACTION_ATTEMPTS claimers, the last one still gets its turn.
      const claimers = MAX_TRANSACTION_ATTEMPTS;
      const claims = await race(claimers, (ledger) => ledger.claimCrlNumber('intermediate-2', shared));
      const numbers = claims.map(outcome) as bigint[];
      expect([...numbers].sort((a, b) => Number(a - b))).toEqual(Array.from({ length: claimers }, (_, i) => BigInt(i + 1)));
      expect((await one.crlState('intermediate-2', now)).crlNumber).toBe(BigInt(claimers));

      const leases = await race(8, (ledger, i) => ledger.claimCrlNumber('intermediate-3', { holder: `builder-${i}`, now, until: shared.until }));
      expect(leases.map(outcome).filter((n) => n !== undefined)).toEqual([1n]);
    });

    it('of orders created at once to replace one certificate, one wins and the others are alreadyReplaced', async () => {
      await one.insertCertificate(certificateRecord('p1', ['replace.example'], 90, now));
      const replacement = { certId: 'cert-id-p1', serial: 'p1' };
      const results = await race(10, (ledger, i) => ledger.createOrder(order(`rep-${i}`, { replacement }), []));
      expect(results.map(outcome).sort()).toEqual([...Array(9).fill('alreadyReplaced'), undefined]);
      const winner = `rep-${results.findIndex((r) => r.status === 'fulfilled')}`;
      expect(await two.replacingOrder('p1')).toBe(winner);
      expect((await one.getOrder(winner))?.replaces).toBe('cert-id-p1');
      expect(await count(`orders WHERE id LIKE 'rep-%'`)).toBe(1);
    });

    it('of rate-limit takes at once from both instances, exactly the limit are taken', async () => {
      const results = await race(10, (ledger) => ledger.takeRateLimit('new-account', '192.0.2.7', now, 3, HOUR));
      expect(results.map((r) => (outcome(r) as { taken: boolean }).taken).filter(Boolean)).toHaveLength(3);
      expect(await count(`rate_limit_events WHERE subject = '192.0.2.7'`)).toBe(3);
    });

    it('rate-limit takes at once for different addresses do not contend: all taken, none retried', async () => {
      // Containers booting together each create an account from their own address: the window of
      // one address is all a take reads and writes, so no take waits for or conflicts with another.
      const before = one.retriedTransactions + two.retriedTransactions;
      const results = await race(64, (ledger, i) => ledger.takeRateLimit('new-account', `198.51.100.${i}`, now, 3, HOUR));
      expect(results.map((r) => (outcome(r) as { taken: boolean }).taken)).toEqual(Array(64).fill(true));
      expect(one.retriedTransactions + two.retriedTransactions - before).toBe(0);
    });

    it('of CA identities recorded at once, the first wins and every instance is told it', async () => {
      const results = await race(6, (ledger, i) => ledger.recordCaIdentity(`root-${i}`, now));
      const recorded = await one.caIdentity();
      expect(results.map(outcome)).toEqual(Array(6).fill(recorded));
    });

    it('lost serialization races were retried, not failed', () => {
      expect(retries).toBeGreaterThan(0);
    });
  });

  it("leaves another instance's work alone until the processing lease ran out, and its own always", async () => {
    const { url, raw } = await database();
    let clock = now.getTime();
    const stopped = await PostgresLedger.open({ connection: connect(url), now: () => clock });
    const restarted = await PostgresLedger.open({ connection: connect(url), now: () => clock });
    try {
      await stopped.createAccount(accountRecord('a1', 't1', now));
      await stopped.createOrder(order('o1', { authorizationIds: ['z1'] }), [authorizationRecord('z1', 'a1', 'lease.example', now)]);
      expect(await stopped.beginFinalize('o1')).toBe(true);
      expect(await stopped.beginChallenge('z1-c')).toBe(true);
      clock += PROCESSING_LEASE_MS - 1;
      expect(await restarted.interruptedWork()).toEqual({ orderIds: [], challenges: [] });
      clock += 1;
      const interrupted = { orderIds: ['o1'], challenges: [{ challengeId: 'z1-c', authorizationId: 'z1', accountId: 'a1' }] };
      expect(await restarted.interruptedWork()).toEqual(interrupted);
      expect(await stopped.interruptedWork()).toEqual({ orderIds: [], challenges: [] });
    } finally {
      await stopped.close();
      await restarted.close();
      await raw.end();
    }
  });
});
