import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import { unreportedQuery } from '../renewal-risk-events.js';
import { createPostgresPool } from './connect.js';
import { PostgresLedger } from './ledger.js';

// The renewal-risk check's reads on PostgreSQL (the SQLite plans: sqlite/inventory.test.ts): each a
// range of its partial index, in the generic plan a prepared statement ends up with too (its
// literals match the index's WHERE; only the bound is a parameter). On a near-empty table the
// planner would rather scan, so sequential scans are priced out, as they are on a large ledger.
const available = postgresAvailable();

describe.skipIf(!available)('renewal-risk check plans on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let client: pg.Client;
  beforeAll(async () => {
    cluster = await startPostgres();
    const url = await cluster.createDatabase();
    await (await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 1 }) })).close();
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("SET enable_seqscan = off; SET plan_cache_mode = 'force_generic_plan'");
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await cluster?.stop();
  }, 60_000);

  it.each([
    ['overdue', 'certificates_overdue_unreported', 'renewal_due_at'],
    ['expiring', 'certificates_expiring_unreported', 'not_after'],
  ] as const)('the %s read: an index scan of %s on %s', async (kind, index, column) => {
    const sql = unreportedQuery(kind, 'certificates c', { now: '$1', until: '$1', limit: '$2' }, ' FOR UPDATE OF c SKIP LOCKED');
    await client.query(`PREPARE risk_${kind}(bigint, bigint) AS ${sql}`);
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE risk_${kind}(0, 500)`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(new RegExp(`Index Scan using ${index} on certificates c`));
    expect(plan).toMatch(new RegExp(`Index Cond: \\(${column} <= \\$1\\)`));
    expect(plan).not.toMatch(/Seq Scan|Sort/);
  });
});
