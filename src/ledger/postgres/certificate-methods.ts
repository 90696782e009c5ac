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
import type { PostgresCertificates } from './certificates.js';
import type { PostgresCrlState } from './crl.js';
import { countCertificates, listCertificates } from './inventory.js';
import type { PostgresMetrics } from './metrics.js';
import type { PostgresRenewal } from './renewal.js';
import type { PostgresSession } from './transaction.js';

/**
 * The certificate aggregate of PostgresLedger: issuance outside an order, revocation, CRLs, the
 * inventory and its counts, renewal information. A base class so that PostgresLedger keeps one
 * public interface (CertificateLedger) while its file holds the account, order and shared-state
 * methods; PostgresLedger builds the modules these methods delegate to.
 */
export abstract class PostgresCertificateMethods {
  protected abstract readonly db: PostgresSession;
  protected abstract readonly certificates: PostgresCertificates;
  protected abstract readonly crl: PostgresCrlState;
  protected abstract readonly metrics: PostgresMetrics;
  protected abstract readonly renewal: PostgresRenewal;

  insertCertificate(certificate: NewCertificate): Promise<void> {
    return this.certificates.insert(certificate);
  }

  getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.certificates.get(serial);
  }

  revokeCertificate(r: RevocationRecord): Promise<RevocationOutcome> {
    return this.certificates.revoke(r);
  }

  isKeyBlocked(keyHash: string): Promise<boolean> {
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
    return this.crl.claimCrlNumber(issuer, lease);
  }

  releaseCrlLease(issuer: CrlIssuer, holder: string): Promise<void> {
    return this.crl.releaseCrlLease(issuer, holder);
  }

  recordCrl(issuer: CrlIssuer, crl: { crlNumber: bigint; thisUpdate: Date; nextUpdate: Date; der: Uint8Array }): Promise<void> {
    return this.crl.recordCrl(issuer, crl);
  }

  crlState(issuer: CrlIssuer, now: Date): Promise<CrlState> {
    return this.crl.crlState(issuer, now);
  }

  listCertificates(filter: CertificateFilter): Promise<CertificateSummary[]> {
    return listCertificates(this.db, filter);
  }

  countCertificates(filter: CertificateFilter): Promise<number> {
    return countCertificates(this.db, filter);
  }

  summaryCounts(now: Date, days: number, expiringWithinMs: number): Promise<SummaryCounts> {
    return this.metrics.summaryCounts(now, days, expiringWithinMs);
  }

  prepareSummaryCounts(): void {
    // The pool's connections are opened as they are needed.
  }

  certificateCounts(now: Date, withinMs: readonly number[]): Promise<CertificateCounts> {
    return this.metrics.certificateCounts(now, withinMs);
  }

  getRenewalState(serial: string): Promise<RenewalState | undefined> {
    return this.renewal.getRenewalState(serial);
  }

  markRenewEarly(mark: RenewEarlyMark): Promise<string[]> {
    return this.renewal.markRenewEarly(mark);
  }

  replacingOrder(serial: string): Promise<string | undefined> {
    return this.renewal.replacingOrder(serial);
  }
}
