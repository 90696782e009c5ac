import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRecord, certificateRecord } from '../../test/support/ledger-records.js';
import { EXPIRING_SQL, REVOKED_UNEXPIRED_SQL } from './sqlite-metrics.js';
import { SqliteLedger } from './sqlite-ledger.js';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
let dir: string;
let ledger: SqliteLedger;

async function add(serial: string, notAfterDays: number) {
  await ledger.insertCertificate(certificateRecord(serial, [`${serial}.example.internal`], notAfterDays, now));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-metrics-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await ledger.createAccount(accountRecord('a1', 't1', now));
  await add('01', 0.5); // within 1 day
  await add('02', 3); // within 7 days
  await add('03', 7); // exactly 7 days: inside (now, now + 7d]
  await add('04', 20); // within 30 days
  await add('05', 90); // later
  await add('06', -1); // expired
  await add('07', 5); // revoked, unexpired
  await add('08', -3); // revoked, expired
  for (const serial of ['07', '08']) {
    await ledger.revokeCertificate({ serial, reason: 0, revokedAt: now, blockKey: false, actor: 'operator:test' });
  }
});

afterAll(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('certificateCounts', () => {
  it('counts valid certificates per expiry window and revoked ones still on the CRLs', async () => {
    const counts = await ledger.certificateCounts(now, [DAY, 7 * DAY, 30 * DAY]);
    expect(counts).toEqual({ expiringWithin: [1, 3, 4], revokedUnexpired: 1 });
  });

  it('answers with no windows and for a later time', async () => {
    expect(await ledger.certificateCounts(now, [])).toEqual({ expiringWithin: [], revokedUnexpired: 1 });
    const later = new Date(now.getTime() + 10 * DAY);
    expect(await ledger.certificateCounts(later, [30 * DAY])).toEqual({ expiringWithin: [1], revokedUnexpired: 0 });
  });

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
    } finally {
      db.close();
    }
  });
});
