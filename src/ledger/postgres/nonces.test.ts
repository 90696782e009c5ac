import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { readMigrations } from '../migrate.js';
import { migratePostgres, POSTGRES_MIGRATIONS_DIR } from './migrate.js';
import { NONCE_LIFETIME_MS, PostgresNonceStore } from './nonces.js';

const available = postgresAvailable();

describe.skipIf(!available)('PostgresNonceStore: nonces two instances share', () => {
  let cluster: PostgresCluster;
  let pools: pg.Pool[];
  let clock: number;
  let a: PostgresNonceStore;
  let b: PostgresNonceStore;
  const now = () => clock;
  const used = async () => (await pools[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM used_nonces')).rows[0]!.n;

  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    // Two pools: two instances, each with its own connections.
    pools = [new pg.Pool({ connectionString: url, max: 4 }), new pg.Pool({ connectionString: url, max: 4 })];
    clock = 1_800_000_000_000;
    await migratePostgres(pools[0]!, readMigrations(POSTGRES_MIGRATIONS_DIR), now);
    a = await PostgresNonceStore.open({ pool: pools[0]!, now });
    b = await PostgresNonceStore.open({ pool: pools[1]!, now });
  }, 120_000);
  afterAll(async () => {
    a?.close();
    b?.close();
    await Promise.all((pools ?? []).map((p) => p.end()));
    await cluster?.stop();
  }, 60_000);

  it('a nonce one instance issued is accepted once by the other, then refused by both', async () => {
    const nonce = await a.issue();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await b.consume(nonce)).toBe(true);
    expect(await a.consume(nonce)).toBe(false);
    expect(await b.consume(nonce)).toBe(false);
  });

  it('issuing writes nothing; spending writes one row', async () => {
    const before = await used();
    const nonces = await Promise.all(Array.from({ length: 100 }, () => a.issue()));
    expect(new Set(nonces).size).toBe(100);
    expect(await used()).toBe(before);
    expect(await b.consume(nonces[0]!)).toBe(true);
    expect(await used()).toBe(before + 1);
  });

  it('twenty concurrent spends of one nonce across both instances: exactly one succeeds', async () => {
    const nonce = await b.issue();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(nonce)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('refuses forgeries and anything that is not a nonce, without writing', async () => {
    const nonce = await a.issue();
    const bytes = Buffer.from(nonce, 'base64url');
    const forged = (i: number) => {
      const copy = Buffer.from(bytes);
      copy[i]! ^= 1;
      return copy.toString('base64url');
    };
    const before = await used();
    // A flipped bit in the issue time, the random part or the tag.
    for (const i of [0, 8, 20, 31]) expect(await b.consume(forged(i))).toBe(false);
    for (const junk of ['', 'x', nonce.slice(1), `${nonce}A`, nonce.replace(/./, '+'), '\u0000'.repeat(43)]) {
      expect(await b.consume(junk)).toBe(false);
    }
    expect(await used()).toBe(before);
    // The real one is still good.
    expect(await b.consume(nonce)).toBe(true);
  });

  it('a store opened with another secret (another ledger) refuses this ledger\'s nonces', async () => {
    const other = await cluster.createDatabase();
    const pool = new pg.Pool({ connectionString: other, max: 1 });
    try {
      await migratePostgres(pool, readMigrations(POSTGRES_MIGRATIONS_DIR), now);
      const stranger = await PostgresNonceStore.open({ pool, now });
      stranger.close();
      expect(await stranger.consume(await a.issue())).toBe(false);
      // Reopening keeps the secret: instances that start later accept earlier instances' nonces.
      const again = await PostgresNonceStore.open({ pool: pools[1]!, now });
      again.close();
      expect(await again.consume(await a.issue())).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('a nonce older than its lifetime is refused, and purge deletes spent ones past it', async () => {
    const stale = await a.issue();
    const spent = await a.issue();
    expect(await a.consume(spent)).toBe(true);
    clock += NONCE_LIFETIME_MS;
    expect(await b.consume(stale)).toBe(false);
    const fresh = await a.issue();
    expect(await b.consume(fresh)).toBe(true);
    const purged = await a.purge();
    expect(purged).toBeGreaterThanOrEqual(1);
    // Only the fresh one's row is left young enough to keep.
    const { rows } = await pools[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM used_nonces WHERE expires_at <= $1', [clock]);
    expect(rows[0]!.n).toBe(0);
    expect(await used()).toBe(1);
    // And the purged nonce is still refused: its age alone says so.
    expect(await b.consume(spent)).toBe(false);
  });
});
