import { revokedColumnsOf, type RevokedColumns } from '../../core/revoked-columns.js';
import { partitionOfCrlIssuer, type CrlIssuer, type CrlLease, type CrlState } from '../ledger.js';
import type { Int8 } from './rows.js';
import { statement, type PostgresSession } from './transaction.js';
import { optMs } from '../rows.js';

/** A generation's last expiry: the end of its range of certificates_by_generation_status. */
export const LAST_NOT_AFTER_SQL = 'SELECT MAX(not_after) AS last FROM certificates WHERE issuer_generation = $1';

/** Valid, unexpired certificates per generation: an index-only scan of certificates_by_generation_status. */
export const LIVE_BY_GENERATION_SQL = `SELECT issuer_generation AS generation, COUNT(*) AS live FROM certificates
    WHERE status = 'valid' AND not_after > $1 GROUP BY issuer_generation ORDER BY issuer_generation`;

const S = {
  // A CRL's entries: revoked certificates until they expire (RFC 5280 §5), serials in byte order as SQLite sorts them.
  revokedUnexpired: statement('crl.revokedUnexpired', `SELECT serial, revoked_at, revocation_reason FROM certificates
    WHERE status = 'revoked' AND not_after > $1 AND issuer_generation = $2 ORDER BY serial COLLATE "C"`),
  // One partition's entries (crl.partitions), through certificates_revoked_by_partition.
  revokedUnexpiredInPartition: statement('crl.revokedUnexpiredInPartition', `SELECT serial, revoked_at, revocation_reason FROM certificates
    WHERE status = 'revoked' AND crl_partition IS NOT NULL AND issuer_generation = $2 AND crl_partition = $3 AND not_after > $1
    ORDER BY serial COLLATE "C"`),
  // A range of the primary key: 'intermediate-<n>-partition-' .. 'intermediate-<n>-partition.' ('.' follows '-' in "C").
  partitionIssuers: statement('crl.partitionIssuers', `SELECT issuer FROM crl_state WHERE issuer COLLATE "C" > $1 AND issuer COLLATE "C" < $2`),
  lastNotAfter: statement('crl.lastNotAfter', LAST_NOT_AFTER_SQL),
  liveByGeneration: statement('crl.liveByGeneration', LIVE_BY_GENERATION_SQL),
  // The issuer's row is created by its first revocation or its first CRL (a new row gets number 1);
  // an existing one is claimed only while no other builder's lease runs. No row back: not claimed.
  claim: statement('crl.claim', `INSERT INTO crl_state (issuer, crl_number, dirty, lease_holder, lease_until) VALUES ($1, 1, FALSE, $2, $4)
    ON CONFLICT (issuer) DO UPDATE SET crl_number = crl_state.crl_number + 1, dirty = FALSE, lease_holder = $2, lease_until = $4
      WHERE crl_state.lease_until IS NULL OR crl_state.lease_until <= $3 OR crl_state.lease_holder = $2
    RETURNING crl_number`),
  record: statement('crl.record', `UPDATE crl_state SET this_update = $3, next_update = $4, der = $5, lease_holder = NULL, lease_until = NULL
    WHERE issuer = $1 AND crl_number = $2`),
  releaseLease: statement('crl.releaseLease', `UPDATE crl_state SET dirty = TRUE, lease_holder = NULL, lease_until = NULL
    WHERE issuer = $1 AND lease_holder = $2`),
  state: statement('crl.state', 'SELECT crl_number, dirty, this_update, next_update, der, lease_until FROM crl_state WHERE issuer = $1'),
};

interface CrlStateRow {
  crl_number: Int8;
  dirty: boolean;
  this_update: Int8 | null;
  next_update: Int8 | null;
  der: Buffer | null;
  lease_until: Int8 | null;
}

/** CRL numbers, the last CRL each issuer signed, and the revoked list they are built from. */
export class PostgresCrlState {
  constructor(private readonly db: PostgresSession) {}

  /**
   * Rows as arrays, converted straight into the columns: 100,000 entries cost no object each.
   * pg parses them as they arrive, chunk by chunk, so the event loop is never held for the whole list.
   */
  async listRevokedUnexpired(now: Date, issuerGeneration: number, partition?: number): Promise<RevokedColumns> {
    const { rows } =
      partition === undefined
        ? await this.db.queryArrays<[string, Int8, number]>(S.revokedUnexpired, [now.getTime(), issuerGeneration])
        : await this.db.queryArrays<[string, Int8, number]>(S.revokedUnexpiredInPartition, [now.getTime(), issuerGeneration, partition]);
    return revokedColumnsOf(rows);
  }

  async crlPartitions(issuerGeneration: number): Promise<readonly number[]> {
    const prefix = `intermediate-${issuerGeneration}-partition`;
    const { rows } = await this.db.query<{ issuer: CrlIssuer }>(S.partitionIssuers, [`${prefix}-`, `${prefix}.`]);
    return rows
      .map((r) => partitionOfCrlIssuer(r.issuer))
      .filter((p): p is number => p !== undefined)
      .sort((a, b) => a - b);
  }

  async lastNotAfter(issuerGeneration: number): Promise<Date | undefined> {
    return optMs((await this.db.query<{ last: Int8 | null }>(S.lastNotAfter, [issuerGeneration])).rows[0]!.last);
  }

  async liveCertificatesByGeneration(now: Date): Promise<ReadonlyMap<number, number>> {
    const { rows } = await this.db.query<{ generation: number; live: Int8 }>(S.liveByGeneration, [now.getTime()]);
    return new Map(rows.map((r) => [r.generation, Number(r.live)]));
  }

  /**
   * SERIALIZABLE on the issuer's row: instances claiming at once get distinct, increasing numbers,
   * and of builders racing for a free lease one takes it. Undefined while another holder's lease runs.
   */
  claimCrlNumber(issuer: CrlIssuer, lease: CrlLease): Promise<bigint | undefined> {
    return this.db.serializable(async (tx) => {
      const values = [issuer, lease.holder, lease.now.getTime(), lease.until.getTime()];
      const row = (await tx.query<{ crl_number: Int8 }>(S.claim, values)).rows[0];
      return row === undefined ? undefined : BigInt(row.crl_number);
    });
  }

  /** A build that failed: the lease back, and the CRL stale again (its mark was cleared by the claim). One statement. */
  async releaseCrlLease(issuer: CrlIssuer, holder: string): Promise<void> {
    await this.db.query(S.releaseLease, [issuer, holder]);
  }

  /** Only the holder of the latest number writes: a slower build of an older number never wins. */
  async recordCrl(issuer: CrlIssuer, crl: { crlNumber: bigint; thisUpdate: Date; nextUpdate: Date; der: Uint8Array }): Promise<void> {
    // One conditional UPDATE of the issuer's row: no transaction around it.
    await this.db.query(S.record, [issuer, crl.crlNumber.toString(), crl.thisUpdate.getTime(), crl.nextUpdate.getTime(), Buffer.from(crl.der)]);
  }

  async crlState(issuer: CrlIssuer, now: Date): Promise<CrlState> {
    const r = (await this.db.query<CrlStateRow>(S.state, [issuer])).rows[0];
    // A generation whose CRL was never signed nor marked stale: nothing signed yet.
    if (!r) return { crlNumber: 0n, dirty: true, thisUpdate: undefined, nextUpdate: undefined, der: undefined };
    return {
      crlNumber: BigInt(r.crl_number),
      // A lease that ran out unreturned: its builder died after clearing the mark, before storing a CRL.
      dirty: r.dirty || (r.lease_until !== null && Number(r.lease_until) <= now.getTime()),
      thisUpdate: optMs(r.this_update),
      nextUpdate: optMs(r.next_update),
      der: r.der === null ? undefined : new Uint8Array(r.der),
    };
  }
}
