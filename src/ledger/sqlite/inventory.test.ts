import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateFilter } from '../ledger.js';
import { unreportedQuery } from '../renewal-risk-events.js';
import { inventoryQuery } from './inventory.js';
import { SqliteLedger } from './ledger.js';
import { addSampleInventory } from '../../../test/support/ledger-records.js';

// The SQLite query plans; the filters themselves are in contract/inventory.test.ts, run on every backend.
let dir: string;
let ledger: SqliteLedger;
const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

// The same certificates as the contract's filters are checked on.
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-inventory-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await addSampleInventory(ledger, now);
});
afterAll(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('inventory query plans (fast on millions of certificates)', () => {
  const filters: Partial<CertificateFilter>[] = [
    { expiringWithinMs: 7 * DAY },
    { expired: true },
    { revoked: true },
    { accountId: 'a1' },
    { identifier: 'api.internal' },
    { identifier: '*.svc.cluster.local' },
    { overdue: true },
    { unrenewedExpiringWithinMs: 3 * DAY },
    { profile: 'shortlived' },
    { profile: 'default', accountId: 'a1' },
    { profile: 'default', expiringWithinMs: 7 * DAY },
  ];
  it.each(filters)('uses an index for %o', (f) => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    const { sql, params } = inventoryQuery({ now, limit: 100, ...f });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail);
    db.close();
    // A bare "SCAN c" would read every certificate; each filter must search an index instead.
    expect(plan.filter((d) => /^SCAN (c|certificates|certificate_identifiers)\b(?! USING)/.test(d))).toEqual([]);
    expect(plan.join('\n')).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY|PRIMARY KEY/);
  });

  // The next page (`after`): a row value bounds the expiry index's range, with or without a filter.
  it.each<Partial<CertificateFilter>>([{}, { overdue: true }, { expiringWithinMs: 7 * DAY }])('%o after a cursor: the row value bounds an index range', (f) => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    const { sql, params } = inventoryQuery({ now, limit: 100, after: { notAfter: now, serial: '0a' }, ...f });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail);
    db.close();
    expect(sql).toContain('(c.not_after, c.serial) > (@afterNotAfter, @afterSerial)');
    expect(plan.join('\n')).toMatch(/SEARCH c USING INDEX certificates_(by_expiry_serial \(\(not_after,serial\)>\(\?,\?\)\)|unrenewed \(not_after>\?|by_status \(status=\? AND not_after>\?)/);
    expect(plan.filter((d) => /^SCAN c\b/.test(d))).toEqual([]);
  });

  // The certificate list's pages (certs list, GET /api/v1/certificates, the console) read the
  // keyset index (0022) in its order: no sort of every certificate after the cursor, which on a
  // million rows is most of a page's time. With not_after alone a page sorted its equal expiries
  // ("USE TEMP B-TREE FOR LAST TERM OF ORDER BY").
  it.each<[string, Partial<CertificateFilter>]>([
    ['the first page', {}],
    ['a page after a cursor', { after: { notAfter: now, serial: '0a' } }],
    ['the expired ones after a cursor', { expired: true, after: { notAfter: now, serial: '0a' } }],
    ['one profile', { profile: 'default', after: { notAfter: now, serial: '0a' } }],
    ['latest first, the first page', { latestFirst: true }],
    ['latest first, after a cursor', { latestFirst: true, after: { notAfter: now, serial: '0a' } }],
  ])('%s: read in the order of (not_after, serial), no sort', (_label, f) => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    const { sql, params } = inventoryQuery({ now, limit: 100, ...f });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail);
    db.close();
    expect(plan.join('\n')).toMatch(/^(SCAN|SEARCH) c USING INDEX certificates_by_expiry_serial\b/);
    expect(plan.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
  });

  it.each<Partial<CertificateFilter>>([
    { overdue: true },
    { unrenewedExpiringWithinMs: 3 * DAY },
    // The profile is one more condition on the row, read from the same index (it holds profile).
    { overdue: true, profile: 'shortlived' },
    { unrenewedExpiringWithinMs: 3 * DAY, profile: 'default' },
  ])('%o: a range of the partial index of valid, unsuperseded certificates', (f) => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    const { sql, params } = inventoryQuery({ now, limit: 100, ...f });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail);
    db.close();
    expect(plan.join('\n')).toMatch(/SEARCH c USING INDEX certificates_unrenewed \(not_after>\? AND not_after<\?\)|SEARCH c USING INDEX certificates_unrenewed \(not_after>\?\)/);
  });

  // The renewal-risk check (outbox.raiseRenewalRiskEvents) every minute: a range of a partial index
  // holding only the certificates whose state can still move, so a steady check reads what is new,
  // not every certificate told of before; no read of the outbox.
  it.each([
    ['overdue', 'certificates_overdue_unreported', /\(renewal_due_at<\?\)/],
    ['expiring', 'certificates_expiring_unreported', /\(not_after<\?\)/],
  ] as const)('the %s check: a range of %s', (kind, index, range) => {
    const db = new Database(path.join(dir, 'ledger.sqlite3'), { readonly: true });
    const sql = unreportedQuery(kind, `certificates c INDEXED BY ${index}`, { now: '@now', until: '@until', limit: '@limit' });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ now: now.getTime(), until: now.getTime() + DAY, limit: 500 }) as { detail: string }[]).map((r) => r.detail);
    db.close();
    expect(plan.join('\n')).toMatch(new RegExp(`SEARCH c USING INDEX ${index} ${range.source}`));
    expect(plan.filter((d) => /^SCAN|TEMP B-TREE|outbox_events/.test(d))).toEqual([]);
  });
});
