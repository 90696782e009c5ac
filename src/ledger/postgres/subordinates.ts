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
import type { PostgresAuditLog } from './audit.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';

const S = {
  insert: statement('subordinates.insert', `INSERT INTO subordinate_cas (${SUBORDINATE_COLUMNS.split(', ').slice(0, 13).join(', ')})
    VALUES (${Array.from({ length: 13 }, (_, i) => `$${i + 1}`).join(', ')})`),
  bySerial: statement('subordinates.bySerial', `SELECT ${SUBORDINATE_COLUMNS} FROM subordinate_cas WHERE serial = $1`),
  all: statement('subordinates.all', `SELECT ${SUBORDINATE_COLUMNS} FROM subordinate_cas ORDER BY not_after, serial COLLATE "C"`),
  expiring: statement('subordinates.expiring', `SELECT ${SUBORDINATE_COLUMNS} FROM subordinate_cas
    WHERE status = 'valid' AND not_after > $1 AND not_after <= $2 ORDER BY not_after, serial COLLATE "C"`),
  // The row lock decides between instances revoking one subordinate at once (as certificates' revoke).
  revoke: statement('subordinates.revoke', `UPDATE subordinate_cas SET status = 'revoked', revoked_at = $1, revocation_reason = $2
    WHERE serial = $3 AND status = 'valid' RETURNING root_generation`),
  exists: statement('subordinates.exists', 'SELECT 1 FROM subordinate_cas WHERE serial = $1'),
  revoked: statement('subordinates.revoked', `SELECT serial, revoked_at, revocation_reason FROM subordinate_cas
    WHERE status = 'revoked' AND root_generation = $1 AND not_after > $2 ORDER BY serial COLLATE "C"`),
  markCrlDirty: statement('subordinates.markCrlDirty', 'INSERT INTO crl_state (issuer) VALUES ($1) ON CONFLICT (issuer) DO UPDATE SET dirty = TRUE'),
};

/** Subordinate CAs in the PostgreSQL ledger, each change with its audit entry. */
export class PostgresSubordinates implements SubordinatesLedger {
  constructor(
    private readonly db: PostgresSession,
    private readonly audit: PostgresAuditLog,
  ) {}

  recordSubordinate(s: NewSubordinate): Promise<void> {
    return this.db.atomic(async (tx) => {
      await tx.query(S.insert, subordinateValues(s));
      await this.audit.append(tx, subordinateIssueAuditEntry(s));
    });
  }

  async getSubordinate(serial: string): Promise<SubordinateRecord | undefined> {
    const row = (await this.db.query<SubordinateRow>(S.bySerial, [serial])).rows[0];
    return row && toSubordinate(row);
  }

  async listSubordinates(filter?: { readonly now: Date; readonly notAfterBefore: Date }): Promise<SubordinateRecord[]> {
    const { rows } = filter
      ? await this.db.query<SubordinateRow>(S.expiring, [filter.now.getTime(), filter.notAfterBefore.getTime()])
      : await this.db.query<SubordinateRow>(S.all);
    return rows.map(toSubordinate);
  }

  async revokedSubordinates(now: Date, rootGeneration: number): Promise<RevokedSubordinate[]> {
    const { rows } = await this.db.query<{ serial: string; revoked_at: Int8; revocation_reason: number }>(S.revoked, [rootGeneration, now.getTime()]);
    return rows.map((r) => ({ serialHex: r.serial, revokedAt: new Date(Number(r.revoked_at)), reason: r.revocation_reason }));
  }

  revokeSubordinate(r: SubordinateRevocation): Promise<SubordinateRevocationOutcome> {
    return this.db.atomic(async (tx): Promise<SubordinateRevocationOutcome> => {
      const row = (await tx.query<{ root_generation: number }>(S.revoke, [r.revokedAt.getTime(), r.reason, r.serial])).rows[0];
      if (row === undefined) return (await tx.query(S.exists, [r.serial])).rowCount === 0 ? 'unknown' : 'alreadyRevoked';
      await this.audit.append(tx, subordinateRevokeAuditEntry(r, row.root_generation));
      await tx.query(S.markCrlDirty, [rootCrlIssuer(row.root_generation)]);
      return 'revoked';
    });
  }
}
