import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PostgresCluster } from '../../../test/support/postgres.js';
import type { CertificateFilter } from '../ledger.js';
import { createPostgresPool } from './connect.js';
import { inventoryQuery } from './inventory.js';
import { EXPIRIES_PER_DAY_SQL, ISSUANCES_PER_DAY_SQL } from './summary-counts.js';
import { SUMMARY_SELECT } from './accounts.js';
import { LAST_NOT_AFTER_SQL, LIVE_BY_GENERATION_SQL } from './crl.js';
import { PostgresLedger } from './ledger.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';

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
    // Certificates spread over two years, with their audit entries, and the statistics of them: an
    // empty table leaves the planner no reason to prefer one index over another.
    const ledger = await PostgresLedger.open({ connection: createPostgresPool({ url, passwordFile: undefined, poolSize: 1 }) });
    await ledger.createAccount(accountRecord('a1', 't1', now));
    for (let i = 0; i < 400; i++) {
      const issued = new Date(now.getTime() - (i % 365) * DAY);
      await ledger.insertCertificate(certificateRecord(i.toString(16).padStart(4, '0'), [`n${i}.plans.test`], 1 + ((i * 7) % 700), issued));
    }
    await ledger.close();
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('ANALYZE');
    await client.query('SET enable_seqscan = off');
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await cluster?.stop();
  }, 60_000);

  // Which index (the expiry one, or the partial one of unsuperseded certificates) is the planner's
  // choice by the statistics; either way the cursor bounds the range it reads.
  it.each<Partial<CertificateFilter>>([{}, { overdue: true }])('%o after a cursor: an index range bounded by the row value', async (f) => {
    const { text, values } = inventoryQuery({ now, limit: 100, after: { notAfter: new Date(now.getTime() + DAY), serial: '0a' }, ...f });
    expect(text).toMatch(/\(c\.not_after, c\.serial COLLATE "C"\) > \(\$\d+, \$\d+\)/);
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan (using|on) certificates_(by_expiry_serial|unrenewed)/);
    expect(plan).toMatch(/Index Cond: \(.*(not_after >= '?\d+|ROW\(not_after, \(?serial\)?(::text)?( COLLATE "C")?\) > ROW\()/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  // The certificate list's pages (certs list, GET /api/v1/certificates, the console) on the keyset
  // index (0022, serial COLLATE "C" as the query orders it): the row value is the index condition
  // and the rows come in order. Without it the page read not_after's range and sorted it.
  it.each<[string, Partial<CertificateFilter>]>([
    ['the first page', {}],
    ['a page after a cursor', { after: { notAfter: new Date(now.getTime() + DAY), serial: '0a' } }],
    ['latest first, the first page', { latestFirst: true }],
    ['latest first, after a cursor', { latestFirst: true, after: { notAfter: new Date(now.getTime() + DAY), serial: '0a' } }],
  ])('%s: an index scan in (not_after, serial) order, no sort', async (_label, f) => {
    const { text, values } = inventoryQuery({ now, limit: 50, ...f });
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(f.latestFirst ? /Index Scan Backward (using|on) certificates_by_expiry_serial/ : /Index Scan (using|on) certificates_by_expiry_serial/);
    if (f.after) expect(plan).toMatch(/Index Cond: \(ROW\(not_after, /);
    expect(plan).not.toMatch(/Sort|Seq Scan/);
  });

  // The admin API's summary charts (GET /api/v1/summary): ranges of the status-and-expiry index and
  // of the partial index of the audit log's issue entries (migration 0023).
  it.each([
    ['expiries', EXPIRIES_PER_DAY_SQL, /Index (Only )?Scan (using|on) certificates_by_(status|expiry)[\s\S]*Index Cond: .*not_after > .*not_after < /],
    ['issuances', ISSUANCES_PER_DAY_SQL, /Index (Only )?Scan (using|on) audit_log_issues_by_time[\s\S]*Index Cond: .*at >= .*at <= /],
  ] as const)('the summary\'s %s per day: an index range', async (_kind, sql, index) => {
    const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [now.getTime(), now.getTime() + 90 * DAY])).rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(index);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  // Migration 0027 dropped certificates_by_account and merged the two per-generation indexes into
  // certificates_by_generation_status: their readers still read an index only, never the table. After
  // a VACUUM, as autovacuum keeps a live ledger's visibility map (an index-only scan needs it).
  describe('the readers of the indexes 0027 dropped', () => {
    beforeAll(async () => {
      await client.query('VACUUM ANALYZE certificates');
    });
    it.each([
      ['an account with its certificates counted', `${SUMMARY_SELECT} WHERE a.id = $1`, ['a1'], /Index Only Scan using certificates_lineage on certificates c[^\n]*\n\s+Index Cond: \(account_id = /],
      ["a generation's last expiry", LAST_NOT_AFTER_SQL, [1], /Index Only Scan Backward using certificates_by_generation_status on certificates[^\n]*\n\s+Index Cond: \(\(issuer_generation = 1\)/],
    ] as const)('%s: an index-only scan', async (_what, sql, values, index) => {
      // Bitmap scans off for the question asked here (does an index cover the query?): on a table of
      // 400 narrow rows (a few dozen pages since 0028 moved the chains out) a bitmap heap scan
      // prices close to the index-only scan, and which one wins moved with the visibility map.
      await client.query('SET enable_bitmapscan = off');
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [...values])).rows.map((r) => r['QUERY PLAN']).join('\n');
      await client.query('RESET enable_bitmapscan');
      expect(plan).toMatch(index);
      expect(plan).not.toMatch(/Seq Scan|Heap Scan/);
    });
    // The planner's choice by the statistics: the whole of certificates_by_generation_status read
    // alone, or the unexpired range of the expiry index (on these few hundred rows).
    it('the valid certificates per generation: an index, never a scan of the table', async () => {
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${LIVE_BY_GENERATION_SQL}`, [now.getTime()])).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Index Only Scan using certificates_by_generation_status|Index Scan using certificates_by_expiry_serial[^\n]*\n\s+Index Cond: \(not_after > |Bitmap Index Scan on certificates_by_expiry_serial[^\n]*\n\s+Index Cond: \(not_after > /);
      expect(plan).not.toMatch(/Seq Scan/);
    });
  });
});
