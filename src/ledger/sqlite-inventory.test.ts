import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateFilter } from './ledger.js';
import { inventoryQuery } from './sqlite-inventory.js';
import { SqliteLedger } from './sqlite-ledger.js';
import { certificateRecord } from '../../test/support/ledger-records.js';

// The SQLite query plans; the filters themselves are in contract/inventory.test.ts, run on every backend.
let dir: string;
let ledger: SqliteLedger;
const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

async function add(serial: string, names: string[], notAfterDays: number, account = 'a1') {
  await ledger.insertCertificate(certificateRecord(serial, names, notAfterDays, now, account));
}

// The same certificates as the contract's filters are checked on.
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-inventory-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await ledger.createAccount({ id: 'a1', keyThumbprint: 't1', jwk: {}, contact: [], termsOfServiceAgreed: true, createdAt: now });
  await ledger.createAccount({ id: 'a2', keyThumbprint: 't2', jwk: {}, contact: [], termsOfServiceAgreed: true, createdAt: now });
  await add('01', ['web.payments.svc.cluster.local'], 3);
  await add('02', ['api.payments.svc.cluster.local', 'api.internal'], 30);
  await add('03', ['old.example.internal'], -2);
  await add('04', ['svc.cluster.local.evil.test'], 5, 'a2');
  await add('05', ['Mixed.Case.Internal'], 6, 'a2');
  await ledger.revokeCertificate({ serial: '02', reason: 4, revokedAt: now, blockKey: false, actor: 'test' });
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
});
