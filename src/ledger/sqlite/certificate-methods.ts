import type Database from 'better-sqlite3';
import type { RevokedColumns } from '../../core/revoked-columns.js';
import type {
  CertificateCounts,
  CertificateFilter,
  CertificateSummary,
  CrlIssuer,
  CrlLease,
  CrlState,
  RenewalState,
  RenewEarlyMark,
  RevocationOutcome,
  RevocationRecord,
  SummaryCounts,
} from '../ledger.js';
import type { CertificateRecord, NewCertificate } from '../records.js';
import type { SqliteCertificates } from './certificates.js';
import type { SqliteCrlState } from './crl.js';
import { countCertificates, listCertificates } from './inventory.js';
import type { SqliteMetrics } from './metrics.js';
import type { SqliteRenewal } from './renewal.js';
import type { WalDurability } from './wal-durability.js';

/**
 * The certificate aggregate of SqliteLedger: issuance outside an order, revocation, CRLs, the
 * inventory and its counts, renewal information. A base class so that SqliteLedger keeps one
 * public interface (CertificateLedger) while its file holds the account, order and shared-state
 * methods; SqliteLedger builds the modules these methods delegate to.
 */
export abstract class SqliteCertificateMethods {
  protected abstract readonly db: Database.Database;
  protected abstract readonly wal: WalDurability;
  protected abstract readonly certificates: SqliteCertificates;
  protected abstract readonly crl: SqliteCrlState;
  protected abstract readonly metrics: SqliteMetrics;
  protected abstract readonly renewal: SqliteRenewal;

  async insertCertificate(certificate: NewCertificate): Promise<void> {
    this.certificates.insert(certificate);
    await this.wal.afterCommit();
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.certificates.get(serial);
  }

  async revokeCertificate(r: RevocationRecord): Promise<RevocationOutcome> {
    return this.durable(this.certificates.revoke(r));
  }

  async isKeyBlocked(keyHash: string): Promise<boolean> {
    return this.certificates.isKeyBlocked(keyHash);
  }

  listRevokedUnexpired(now: Date, issuerGeneration: number, partition?: number): Promise<RevokedColumns> {
    return this.crl.listRevokedUnexpired(now, issuerGeneration, partition);
  }

  crlPartitions(issuerGeneration: number): Promise<readonly number[]> {
    return this.crl.crlPartitions(issuerGeneration);
  }

  lastNotAfter(issuerGeneration: number): Promise<Date | undefined> {
    return this.crl.lastNotAfter(issuerGeneration);
  }

  liveCertificatesByGeneration(now: Date): Promise<ReadonlyMap<number, number>> {
    return this.crl.liveCertificatesByGeneration(now);
  }

  claimCrlNumber(issuer: CrlIssuer, lease: CrlLease): Promise<bigint | undefined> {
    return this.durable(this.crl.claimCrlNumber(issuer, lease));
  }

  releaseCrlLease(issuer: CrlIssuer, holder: string): Promise<void> {
    return this.durable(this.crl.releaseCrlLease(issuer, holder));
  }

  recordCrl(issuer: CrlIssuer, crl: { crlNumber: bigint; thisUpdate: Date; nextUpdate: Date; der: Uint8Array }): Promise<void> {
    return this.durable(this.crl.recordCrl(issuer, crl));
  }

  crlState(issuer: CrlIssuer, now: Date): Promise<CrlState> {
    return this.crl.crlState(issuer, now);
  }

  async listCertificates(filter: CertificateFilter): Promise<CertificateSummary[]> {
    return listCertificates(this.db, filter);
  }

  async countCertificates(filter: CertificateFilter): Promise<number> {
    return countCertificates(this.db, filter);
  }

  summaryCounts(now: Date, days: number, expiringWithinMs: number): Promise<SummaryCounts> {
    return this.metrics.summaryCounts(now, days, expiringWithinMs);
  }

  prepareSummaryCounts(): void {
    this.metrics.summaryReaders.start();
  }

  async certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts> {
    return this.metrics.certificateCounts(now, withinMs);
  }

  getRenewalState(serial: string): Promise<RenewalState | undefined> {
    return this.renewal.getRenewalState(serial);
  }

  markRenewEarly(mark: RenewEarlyMark): Promise<string[]> {
    return this.durable(this.renewal.markRenewEarly(mark));
  }

  replacingOrder(serial: string): Promise<string | undefined> {
    return this.renewal.replacingOrder(serial);
  }

  /** A write's result, once it is on disk (the write itself committed before this is called). */
  protected async durable<T>(result: T | Promise<T>): Promise<T> {
    const value = await result;
    await this.wal.afterCommit();
    return value;
  }
}
