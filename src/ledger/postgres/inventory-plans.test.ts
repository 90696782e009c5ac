import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import type { CertificateFilter } from '../ledger.js';
import { createPostgresPool } from './connect.js';
import { inventoryQuery } from './inventory.js';
import { PostgresLedger } from './ledger.js';

// The inventory's next page on PostgreSQL (the SQLite plans: sqlite/inventory.test.ts): the keyset
// condition is a row value, which the planner turns into an index condition on not_after; the OR
// of its parts it can only filter row by row (measured at about a second deep into a million
// rows). Sequential scans are priced out, as they are on a large ledger.
const available = postgresAvailable();
const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

describe.skipIf(!available)('inventory keyset plans on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let client: pg.Client;
  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    await (await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 1 }) })).close();
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('SET enable_seqscan = off');
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await cluster?.stop();
  }, 60_000);

  it.each<[Partial<CertificateFilter>, string]>([
    [{}, 'certificates_by_expiry'],
    [{ overdue: true }, 'certificates_unrenewed'],
  ])('%o after a cursor: an index scan of %s bounded by the row value', async (f, index) => {
    const { text, values } = inventoryQuery({ now, limit: 100, after: { notAfter: new Date(now.getTime() + DAY), serial: '0a' }, ...f });
    expect(text).toMatch(/\(c\.not_after, c\.serial COLLATE "C"\) > \(\$\d+, \$\d+\)/);
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(new RegExp(`Index Scan using ${index} on certificates c`));
    expect(plan).toMatch(/Index Cond: \(.*not_after >= /);
    expect(plan).not.toMatch(/Seq Scan/);
  });
});
