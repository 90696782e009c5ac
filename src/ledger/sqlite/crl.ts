import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { revokedColumnsOf, type RevokedColumns } from '../../core/revoked-columns.js';
import { workerUrl } from '../../core/worker-url.js';
import { REVOKED_UNEXPIRED_IN_PARTITION_SQL } from './statements.js';
import { partitionOfCrlIssuer, type CrlIssuer, type CrlLease, type CrlState } from '../ledger.js';

/**
 * Valid, unexpired certificates per issuer generation: only the index
 * certificates_by_generation_status is read, the status its last column (named: without statistics
 * SQLite would walk the status index and read every certificate's row for its generation, 0.8 s on
 * 1,000,000).
 */
export const LIVE_BY_GENERATION_SQL = `SELECT issuer_generation AS generation, COUNT(*) AS live FROM certificates INDEXED BY certificates_by_generation_status
  WHERE status = 'valid' AND not_after > ? GROUP BY issuer_generation`;

/** A generation's last expiry: one seek at the end of its range of certificates_by_generation_status. */
export const LAST_NOT_AFTER_SQL = 'SELECT MAX(not_after) AS last FROM certificates WHERE issuer_generation = ?';

/** Revoked entries read on the caller's thread at most (about 5 ms); more are read by revoked-worker.ts. */
const IN_PROCESS_ROWS = 5000;

/** CRL numbers, the last CRL each issuer signed, and the revoked list they are built from. */
export class SqliteCrlState {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {
    this.s = {
      createCrlState: db.prepare('INSERT INTO crl_state (issuer) VALUES (?) ON CONFLICT (issuer) DO NOTHING'),
      lastNotAfter: db.prepare(LAST_NOT_AFTER_SQL),
      liveByGeneration: db.prepare(LIVE_BY_GENERATION_SQL),
      // Only while no other builder holds the lease (or it ran out).
      claimCrlNumber: db.prepare(`UPDATE crl_state SET crl_number = crl_number + 1, dirty = 0, lease_holder = @holder, lease_until = @until
        WHERE issuer = @issuer AND (lease_until IS NULL OR lease_until <= @now OR lease_holder = @holder) RETURNING crl_number`),
      recordCrl: db.prepare(`UPDATE crl_state SET this_update = @thisUpdate, next_update = @nextUpdate, der = @der,
        lease_holder = NULL, lease_until = NULL WHERE issuer = @issuer AND crl_number = @crlNumber`),
      releaseLease: db.prepare(`UPDATE crl_state SET dirty = 1, lease_holder = NULL, lease_until = NULL
        WHERE issuer = ? AND lease_holder = ?`),
      crlState: db.prepare('SELECT crl_number, dirty, this_update, next_update, der, lease_until FROM crl_state WHERE issuer = ?'),
      // A range of the primary key: 'intermediate-<n>-partition-' .. 'intermediate-<n>-partition.' ('.' follows '-').
      partitionIssuers: db.prepare('SELECT issuer FROM crl_state WHERE issuer > ? AND issuer < ?').pluck(),
      // A count of the partial index's range only: a few milliseconds for tens of thousands of entries.
      countInPartition: db.prepare(`SELECT COUNT(*) FROM certificates INDEXED BY certificates_revoked_by_partition
        WHERE status = 'revoked' AND crl_partition IS NOT NULL AND issuer_generation = ? AND crl_partition = ? AND not_after > ?`).pluck(),
      revokedInPartition: db.prepare(REVOKED_UNEXPIRED_IN_PARTITION_SQL).raw(),
    };
  }

  listRevokedUnexpired(now: Date, issuerGeneration: number, partition?: number): Promise<RevokedColumns> {
    // A small partition is read here: a worker thread costs 0.1-0.2 s to start, which N partitions
    // (crl.partitions, up to 256) would pay at every scheduled refresh for a few entries each.
    if (partition !== undefined && (this.s.countInPartition.get(issuerGeneration, partition, now.getTime()) as number) <= IN_PROCESS_ROWS) {
      return Promise.resolve(revokedColumnsOf(this.s.revokedInPartition.all(issuerGeneration, partition, now.getTime()) as [string, number, number][]));
    }
    return new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl(import.meta.url, 'revoked-worker'), {
        workerData: { file: this.file, nowMs: now.getTime(), issuerGeneration, partition },
      });
      worker.once('message', (columns: RevokedColumns) => resolve(columns));
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (code !== 0) reject(new Error(`the revoked-certificates reader exited with code ${code}`));
      });
    });
  }

  async crlPartitions(issuerGeneration: number): Promise<readonly number[]> {
    const prefix = `intermediate-${issuerGeneration}-partition`;
    const issuers = this.s.partitionIssuers.all(`${prefix}-`, `${prefix}.`) as CrlIssuer[];
    return issuers
      .map(partitionOfCrlIssuer)
      .filter((p): p is number => p !== undefined)
      .sort((a, b) => a - b);
  }

  async lastNotAfter(issuerGeneration: number): Promise<Date | undefined> {
    const row = this.s.lastNotAfter.get(issuerGeneration) as { last: number | null };
    return row.last === null ? undefined : new Date(row.last);
  }

  async liveCertificatesByGeneration(now: Date): Promise<ReadonlyMap<number, number>> {
    const rows = this.s.liveByGeneration.all(now.getTime()) as { generation: number; live: number }[];
    return new Map(rows.map((r) => [r.generation, r.live]));
  }

  async claimCrlNumber(issuer: CrlIssuer, lease: CrlLease): Promise<bigint | undefined> {
    const row = this.db.transaction(() => {
      this.s.createCrlState.run(issuer);
      return this.s.claimCrlNumber
        .safeIntegers(true)
        .get({ issuer, holder: lease.holder, now: lease.now.getTime(), until: lease.until.getTime() }) as { crl_number: bigint } | undefined;
    })();
    return row?.crl_number;
  }

  async releaseCrlLease(issuer: CrlIssuer, holder: string): Promise<void> {
    this.s.releaseLease.run(issuer, holder);
  }

  async recordCrl(
    issuer: CrlIssuer,
    crl: { crlNumber: bigint; thisUpdate: Date; nextUpdate: Date; der: Uint8Array },
  ): Promise<void> {
    // Only the holder of the latest number writes: a slower build of an older number never wins.
    this.s.recordCrl.run({
      issuer,
      crlNumber: crl.crlNumber,
      thisUpdate: crl.thisUpdate.getTime(),
      nextUpdate: crl.nextUpdate.getTime(),
      der: Buffer.from(crl.der),
    });
  }

  async crlState(issuer: CrlIssuer, now: Date): Promise<CrlState> {
    const r = this.s.crlState.safeIntegers(true).get(issuer) as
      | { crl_number: bigint; dirty: bigint; this_update: bigint | null; next_update: bigint | null; der: Buffer | null; lease_until: bigint | null }
      | undefined;
    // A generation whose CRL was never signed nor marked stale: nothing signed yet.
    if (!r) return { crlNumber: 0n, dirty: true, thisUpdate: undefined, nextUpdate: undefined, der: undefined };
    return {
      crlNumber: r.crl_number,
      // A lease that ran out unreturned: its builder died after clearing the mark, before storing a CRL.
      dirty: r.dirty === 1n || (r.lease_until !== null && Number(r.lease_until) <= now.getTime()),
      thisUpdate: r.this_update === null ? undefined : new Date(Number(r.this_update)),
      nextUpdate: r.next_update === null ? undefined : new Date(Number(r.next_update)),
      der: r.der === null ? undefined : new Uint8Array(r.der),
    };
  }

}
