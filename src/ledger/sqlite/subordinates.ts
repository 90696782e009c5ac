import type Database from 'better-sqlite3';
import { rootCrlIssuer } from '../interfaces/crl.js';
import type {
  NewSubordinate,
  RevokedSubordinate,
  SubordinateRecord,
  SubordinateRevocation,
  SubordinateRevocationOutcome,
  SubordinatesLedger,
} from '../interfaces/subordinates.js';
import {
  SUBORDINATE_COLUMNS,
  subordinateIssueAuditEntry,
  subordinateRevokeAuditEntry,
  subordinateValues,
  toSubordinate,
  type SubordinateRow,
} from '../subordinate-rows.js';
import type { SqliteAuditLog } from './audit.js';

/** Subordinate CAs in the SQLite ledger; `durable` waits for each write's commit to be on disk. */
export class SqliteSubordinates implements SubordinatesLedger {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditLog,
    private readonly durable: <T>(result: T | Promise<T>) => Promise<T>,
  ) {
    this.s = {
      insert: db.prepare(`INSERT INTO subordinate_cas (${SUBORDINATE_COLUMNS.split(', ').slice(0, 13).join(', ')})
        VALUES (${Array(13).fill('?').join(', ')})`),
      bySerial: db.prepare(`SELECT ${SUBORDINATE_COLUMNS} FROM subordinate_cas WHERE serial = ?`),
      all: db.prepare(`SELECT ${SUBORDINATE_COLUMNS} FROM subordinate_cas ORDER BY not_after, serial`),
      expiring: db.prepare(`SELECT ${SUBORDINATE_COLUMNS} FROM subordinate_cas
        WHERE status = 'valid' AND not_after > ? AND not_after <= ? ORDER BY not_after, serial`),
      revoke: db.prepare(`UPDATE subordinate_cas SET status = 'revoked', revoked_at = ?, revocation_reason = ?
        WHERE serial = ? AND status = 'valid' RETURNING root_generation`),
      revoked: db.prepare(`SELECT serial, revoked_at, revocation_reason FROM subordinate_cas
        WHERE status = 'revoked' AND root_generation = ? AND not_after > ? ORDER BY serial`),
      markCrlDirty: db.prepare('INSERT INTO crl_state (issuer, dirty) VALUES (?, 1) ON CONFLICT (issuer) DO UPDATE SET dirty = 1'),
    };
  }

  async recordSubordinate(s: NewSubordinate): Promise<void> {
    return this.durable(
      this.db.transaction(() => {
        this.s.insert.run(...subordinateValues(s));
        this.audit.append(subordinateIssueAuditEntry(s));
      })(),
    );
  }

  async getSubordinate(serial: string): Promise<SubordinateRecord | undefined> {
    const row = this.s.bySerial.get(serial) as SubordinateRow | undefined;
    return row && toSubordinate(row);
  }

  async listSubordinates(filter?: { readonly now: Date; readonly notAfterBefore: Date }): Promise<SubordinateRecord[]> {
    const rows = (filter ? this.s.expiring.all(filter.now.getTime(), filter.notAfterBefore.getTime()) : this.s.all.all()) as SubordinateRow[];
    return rows.map(toSubordinate);
  }

  async revokedSubordinates(now: Date, rootGeneration: number): Promise<RevokedSubordinate[]> {
    const rows = this.s.revoked.all(rootGeneration, now.getTime()) as { serial: string; revoked_at: number; revocation_reason: number }[];
    return rows.map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revoked_at), reason: r.revocation_reason }));
  }

  async revokeSubordinate(r: SubordinateRevocation): Promise<SubordinateRevocationOutcome> {
    const outcome = this.db.transaction((): SubordinateRevocationOutcome => {
      const row = this.s.revoke.get(r.revokedAt.getTime(), r.reason, r.serial) as { root_generation: number } | undefined;
      if (!row) return this.s.bySerial.get(r.serial) === undefined ? 'unknown' : 'alreadyRevoked';
      this.audit.append(subordinateRevokeAuditEntry(r, row.root_generation));
      this.s.markCrlDirty.run(rootCrlIssuer(row.root_generation));
      return 'revoked';
    }).immediate();
    return this.durable(outcome);
  }
}
