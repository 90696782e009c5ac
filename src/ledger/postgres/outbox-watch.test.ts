import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { accountRecord } from '../../../test/support/ledger-records.js';
import { createPostgresPool } from './connect.js';
import { PostgresLedger } from './ledger.js';

// The deliverer's wake-up on PostgreSQL (LISTEN certmint_outbox) outlives its connection: a
// backend terminated as a failover or an idle-session timeout would is replaced, and events
// committed after that wake the watcher at once again, not at the next sweep.
const available = postgresAvailable();
const now = new Date('2026-01-01T00:00:00Z');

describe.skipIf(!available)('outbox watch on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let ledger: PostgresLedger;
  let admin: pg.Client;
  const listeners = async () =>
    (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN certmint_outbox'")).rows.map((r) => r.pid);

  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 2 }) });
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await ledger?.close();
    await cluster?.stop();
  }, 60_000);

  it('listens again after its connection is terminated, and hears the next commit', async () => {
    let heard = 0;
    const stop = await ledger.outbox.watchOutbox(() => heard++);
    try {
      const [first] = await listeners();
      expect(first).toBeDefined();
      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      // A new backend LISTENs (after the 1 s backoff), and the watcher is told to look for what it missed.
      await vi.waitFor(async () => expect((await listeners()).filter((pid) => pid !== first)).toHaveLength(1), { timeout: 15_000, interval: 100 });
      await vi.waitFor(() => expect(heard).toBeGreaterThanOrEqual(1), { timeout: 5_000 });
      const before = heard;
      await ledger.createAccount(accountRecord('a1', 't1', now));
      await vi.waitFor(() => expect(heard).toBeGreaterThan(before), { timeout: 5_000 });
    } finally {
      stop();
    }
    // Stopped: its connection is gone and stays gone.
    await vi.waitFor(async () => expect(await listeners()).toEqual([]), { timeout: 5_000 });
  });
});
