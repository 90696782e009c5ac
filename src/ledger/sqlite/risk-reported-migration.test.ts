import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLedger } from './ledger.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';

// Migration 0017 back-fills certificates.risk_reported from the events 0016's check wrote: after
// the upgrade no certificate is told of twice, and the ones not told of yet still are.
const DAY = 86_400_000;
const now = new Date('2026-01-01T00:00:00Z');
const day = (d: number) => new Date(now.getTime() + d * DAY);
let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-risk-migration-'));
  file = path.join(dir, 'ledger.sqlite3');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('migration 0017 on a ledger the 0016 check reported from', () => {
  it('keeps what was told; tells what was not', async () => {
    let ledger = new SqliteLedger({ file });
    await ledger.createAccount(accountRecord('a1', 't1', now));
    for (const s of ['0a', '0b', '0c']) await ledger.insertCertificate(certificateRecord(s, [`${s}.internal`], 30, now));
    const events = (type: string) => {
      const read = new Database(file, { readonly: true });
      try {
        return read.prepare('SELECT subject FROM outbox_events WHERE type = ? ORDER BY subject').pluck().all(type);
      } finally {
        read.close();
      }
    };
    await ledger.close();
    // As 0016 left it: 0a told overdue, 0b overdue and expiring, 0c nothing (no column, no indexes of 0017).
    const db = new Database(file);
    const raise = db.prepare(`INSERT INTO outbox_events (delivery_id, type, subject, payload, created_at) VALUES (?, ?, ?, '{}', 0)`);
    raise.run('d1', 'certificate.renewal-overdue', '0a');
    raise.run('d2', 'certificate.renewal-overdue', '0b');
    raise.run('d3', 'certificate.expiring-unrenewed', '0b');
    db.exec(`DROP INDEX certificates_overdue_unreported; DROP INDEX certificates_expiring_unreported;
      DROP INDEX outbox_events_ca_expiring_once; DROP INDEX outbox_events_crl_stale_once;
      ALTER TABLE certificates DROP COLUMN risk_reported;
      DROP TABLE subordinate_cas; DROP TABLE console_sessions; DROP TABLE admin_tokens; DROP TABLE admin_certificates; -- and what the migrations after 0017 made (0018-0028)
      DROP INDEX certificates_by_generation_status; CREATE INDEX certificates_by_generation ON certificates (issuer_generation, not_after);
      CREATE INDEX certificates_by_account ON certificates (account_id, created_at);
      DROP INDEX certificates_by_expiry_serial; CREATE INDEX certificates_by_expiry ON certificates (not_after);
      DROP INDEX audit_log_issues_by_time; ALTER TABLE authorizations DROP COLUMN preauthorized_eab_kid;
      DROP TABLE nonce_secret; DROP TABLE used_nonces; DROP TABLE ledger_holders;
      DROP INDEX certificates_revoked_by_partition; ALTER TABLE certificates DROP COLUMN crl_partition;
      ALTER TABLE certificates ADD COLUMN chain_pem TEXT NOT NULL DEFAULT '';
      UPDATE certificates SET chain_pem = (SELECT pem FROM certificate_chains WHERE id = chain_id);
      ALTER TABLE certificates DROP COLUMN chain_id; DROP TABLE certificate_chains;
      DELETE FROM schema_migrations WHERE version >= 17`);
    db.close();

    ledger = new SqliteLedger({ file });
    try {
      expect(await ledger.outbox.raiseRenewalRiskEvents(day(22), 3 * DAY, 100)).toEqual({ raised: 1, handled: 1 }); // 0c overdue
      expect(await ledger.outbox.raiseRenewalRiskEvents(day(28), 3 * DAY, 100)).toMatchObject({ raised: 2 }); // 0a, 0c expiring
      expect(await ledger.outbox.raiseRenewalRiskEvents(day(28), 3 * DAY, 100)).toEqual({ raised: 0, handled: 0 });
      expect(events('certificate.renewal-overdue')).toEqual(['0a', '0b', '0c']);
      expect(events('certificate.expiring-unrenewed')).toEqual(['0a', '0b', '0c']);
    } finally {
      await ledger.close();
    }
  });
});
