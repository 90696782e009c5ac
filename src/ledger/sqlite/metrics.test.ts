import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import { SUMMARY_SELECT } from './accounts.js';
import { LAST_NOT_AFTER_SQL, LIVE_BY_GENERATION_SQL } from './crl.js';
import { EXPIRING_SQL, OVERDUE_SQL, REVOKED_UNEXPIRED_SQL } from './metrics.js';
import {
  EXPIRIES_IN_RANGE_SQL,
  EXPIRING_WITHIN_SQL,
  GENERATIONS_SQL,
  ISSUANCES_IN_RANGE_SQL,
  LIVE_IN_GENERATION_SQL,
  OVERDUE_COUNT_SQL,
  VALID_FROM_SQL,
} from './summary-counts-sql.js';
import { SqliteLedger } from './ledger.js';

// The SQLite query plans; the counts themselves are in contract/metrics.test.ts, run on every backend.
const now = new Date('2026-06-01T00:00:00Z');
let dir: string;
let ledger: SqliteLedger;

async function add(serial: string, notAfterDays: number) {
  await ledger.insertCertificate(certificateRecord(serial, [`${serial}.example.internal`], notAfterDays, now));
}

// The same certificates as the contract's counts are checked on.
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-metrics-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await ledger.createAccount(accountRecord('a1', 't1', now));
  for (const [serial, days] of [['01', 0.5], ['02', 3], ['03', 7], ['04', 20], ['05', 90], ['06', -1], ['07', 5], ['08', -3]] as const) {
    await add(serial, days);
  }
  for (const serial of ['07', '08']) {
    await ledger.revokeCertificate({ serial, reason: 0, revokedAt: now, blockKey: false, actor: 'operator:test' });
  }
});

afterAll(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('certificateCounts on SQLite', () => {
  it('reads only indexes, never the certificates table itself', () => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    try {
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ now: 0, until: 1, until0: 1, until1: 1 }) as { detail: string }[])
          .map((r) => r.detail)
          .join('\n');
      const expiring = plan(EXPIRING_SQL(2));
      expect(expiring).toMatch(/^SEARCH certificates USING COVERING INDEX certificates_by_status \(status=\? AND not_after>\? AND not_after<\?\)$/);
      const revoked = (db.prepare(`EXPLAIN QUERY PLAN ${REVOKED_UNEXPIRED_SQL}`).all(0) as { detail: string }[])
        .map((r) => r.detail)
        .join('\n');
      // Either index serves it as a range scan; SQLite picks.
      expect(revoked).toMatch(/^SEARCH certificates USING COVERING INDEX certificates_(revoked|by_status) \((status=\? AND )?not_after>\?\)$/);
      // Renewal-overdue: a range of the partial index of valid, unsuperseded certificates, which holds every column it reads.
      expect(plan(OVERDUE_SQL(2))).toMatch(/^SEARCH certificates USING COVERING INDEX certificates_unrenewed \(not_after>\?\)\nUSE TEMP B-TREE FOR GROUP BY$/);
      // The admin API's summary charts, a day at a time: a range of an index that holds all it
      // reads (no row of the table, no temporary B-tree), ahead in the expiries, behind in the issuances.
      const daily = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ from: 0, to: 1 }) as { detail: string }[]).map((r) => r.detail).join('\n');
      expect(daily(EXPIRIES_IN_RANGE_SQL)).toBe('SEARCH certificates USING COVERING INDEX certificates_by_status (status=? AND not_after>? AND not_after<?)');
      expect(daily(ISSUANCES_IN_RANGE_SQL)).toBe('SEARCH audit_log USING COVERING INDEX audit_log_issues_by_time (at>? AND at<?)');
      // The valid certificates per generation (summary, /metrics, ca status): the index alone, not a row per certificate.
      const live = (db.prepare(`EXPLAIN QUERY PLAN ${LIVE_BY_GENERATION_SQL}`).all(0) as { detail: string }[]).map((r) => r.detail).join('\n');
      expect(live).toMatch(/^(SCAN|SEARCH) certificates USING COVERING INDEX certificates_by_generation_status\b/);
    } finally {
      db.close();
    }
  });
});

describe('summaryCounts on SQLite', () => {
  it('reads index ranges and seeks only: no table row, no temporary B-tree', () => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    try {
      const plan = (sql: string, ...args: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('\n');
      const byStatus = 'SEARCH certificates USING COVERING INDEX certificates_by_status';
      expect(plan(VALID_FROM_SQL, 0)).toBe(`${byStatus} (status=? AND not_after>?)`);
      expect(plan(EXPIRING_WITHIN_SQL, 0, 1)).toBe(`${byStatus} (status=? AND not_after>? AND not_after<?)`);
      expect(plan(OVERDUE_COUNT_SQL, { now: 0 })).toBe('SEARCH certificates USING COVERING INDEX certificates_unrenewed (not_after>?)');
      expect(plan(LIVE_IN_GENERATION_SQL, 1, 0)).toBe('SEARCH certificates USING COVERING INDEX certificates_by_generation_status (issuer_generation=? AND not_after>?)');
      // The generations: each a seek (MIN, MAX) in certificates_by_generation_status, never a scan of it.
      const generations = plan(GENERATIONS_SQL);
      expect(generations.split('\n').filter((l) => l.includes('certificates '))).toEqual([
        'SEARCH certificates USING COVERING INDEX certificates_by_generation_status',
        'SEARCH certificates USING COVERING INDEX certificates_by_generation_status (issuer_generation>?)',
        'SEARCH certificates USING COVERING INDEX certificates_by_generation_status (issuer_generation=?)',
      ]);
    } finally {
      db.close();
    }
  });
});

// Migration 0027 dropped certificates_by_account and merged the two per-generation indexes into
// certificates_by_generation_status: their readers still read an index only, never the table.
describe('the readers of the indexes 0027 dropped', () => {
  it.each([
    ['an account with its certificates counted', `${SUMMARY_SELECT} WHERE a.id = ?`, 'a1', /\nSEARCH c USING COVERING INDEX certificates_lineage \(account_id=\?\)$/],
    ["a generation's last expiry", LAST_NOT_AFTER_SQL, 1, /^SEARCH certificates USING COVERING INDEX certificates_by_generation_status \(issuer_generation=\?\)$/],
  ] as const)('%s: a covering index', (_what, sql, value, index) => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    try {
      expect((db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(value) as { detail: string }[]).map((r) => r.detail).join('\n')).toMatch(index);
    } finally {
      db.close();
    }
  });
});
