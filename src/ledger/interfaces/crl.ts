import type { RevokedColumns } from '../../core/revoked-columns.js';

/**
 * Whose CRL: an intermediate generation's (of its leaves: 'intermediate' for generation 1,
 * 'intermediate-<n>' for generation n >= 2), one partition of it (crl.partitions > 1:
 * 'intermediate-<n>-partition-<p>' for every generation, 1 included), or a root's (of the
 * intermediates it issued: 'root' for root 1, 'root-<n>' for root n >= 2, certmint ca rotate-root).
 */
export type CrlIssuer = 'intermediate' | `intermediate-${number}` | `intermediate-${number}-partition-${number}` | 'root' | `root-${number}`;

/** The CRL issuer of a root generation. */
export function rootCrlIssuer(rootGeneration: number): CrlIssuer {
  return rootGeneration === 1 ? 'root' : `root-${rootGeneration}`;
}

/** The root generation of a root's CRL issuer; undefined for an intermediate's. */
export function rootGenerationOfCrlIssuer(issuer: CrlIssuer): number | undefined {
  if (issuer === 'root') return 1;
  return issuer.startsWith('root-') ? Number(issuer.slice('root-'.length)) : undefined;
}

/** The CRL issuer of an intermediate generation. */
export function leafCrlIssuer(generation: number): CrlIssuer {
  return generation === 1 ? 'intermediate' : `intermediate-${generation}`;
}

/** The CRL issuer of one partition of an intermediate generation's leaves (crl.partitions). */
export function partitionCrlIssuer(generation: number, partition: number): CrlIssuer {
  return `intermediate-${generation}-partition-${partition}`;
}

/** The CRL that lists a certificate once revoked: its partition's, or (no partition) its generation's. */
export function crlIssuerOfCertificate(generation: number, partition: number | null | undefined): CrlIssuer {
  return partition === null || partition === undefined ? leafCrlIssuer(generation) : partitionCrlIssuer(generation, partition);
}

const PARTITION_ISSUER = /^intermediate-([0-9]+)-partition-([0-9]+)$/;

/** The partition of a partition's CRL issuer; undefined for a whole generation's or a root's. */
export function partitionOfCrlIssuer(issuer: CrlIssuer): number | undefined {
  const m = PARTITION_ISSUER.exec(issuer);
  return m ? Number(m[2]) : undefined;
}

/** The generation of an intermediate's CRL issuer (whole or one partition); undefined for a root's. */
export function generationOfCrlIssuer(issuer: CrlIssuer): number | undefined {
  if (rootGenerationOfCrlIssuer(issuer) !== undefined) return undefined;
  const m = PARTITION_ISSUER.exec(issuer);
  if (m) return Number(m[1]);
  return issuer === 'intermediate' ? 1 : Number(issuer.slice('intermediate-'.length));
}

/** A CRL builder's lease (claimCrlNumber): one instance at a time signs an issuer's CRL. */
export interface CrlLease {
  /** Who builds: unique per process. */
  readonly holder: string;
  readonly now: Date;
  /** A builder that died is replaced after this. */
  readonly until: Date;
}

/** The last CRL an issuer signed, as the ledger keeps it. */
export interface CrlState {
  readonly crlNumber: bigint;
  /** A revocation happened since this CRL was signed. */
  readonly dirty: boolean;
  readonly thisUpdate: Date | undefined;
  readonly nextUpdate: Date | undefined;
  readonly der: Uint8Array | undefined;
}

export interface CrlReader {
  /**
   * Revoked certificates of one intermediate generation that have not expired yet: what its CRL
   * lists (RFC 5280 §5: dropped after expiry), in columns, read without holding the caller's event loop.
   * With `partition`: only the certificates issued into that partition (crl.partitions); without:
   * all of the generation's, partitioned or not (the whole generation's CRL is complete).
   */
  listRevokedUnexpired(now: Date, issuerGeneration: number, partition?: number): Promise<RevokedColumns>;
  /** The latest notAfter of the generation's certificates (any status); undefined when it issued none. */
  lastNotAfter(issuerGeneration: number): Promise<Date | undefined>;
  /** Valid (not revoked), unexpired certificates per generation; generations with none are absent. */
  liveCertificatesByGeneration(now: Date): Promise<ReadonlyMap<number, number>>;
  /**
   * The partitions of the generation that have a CRL state (built, or marked by a revocation or
   * an issuance into them), ascending: every partition CRL to keep refreshing, whatever
   * crl.partitions says now.
   */
  crlPartitions(issuerGeneration: number): Promise<readonly number[]>;
  /** `dirty` also when a builder's lease ran out (by `now`) without its CRL being stored. */
  crlState(issuer: CrlIssuer, now: Date): Promise<CrlState>;
}

/** CRL state per issuer (RFC 5280 §5): numbers, the builder's lease, the last signed CRL. */
export interface CrlLedger extends CrlReader {
  /**
   * Takes the issuer's next CRL number (persisted, strictly increasing across restarts and
   * processes), clears its stale mark and takes the builder's lease until `lease.until`: undefined
   * (nothing changed) while another holder's lease runs. A revocation committed after this marks it again.
   */
  claimCrlNumber(issuer: CrlIssuer, lease: CrlLease): Promise<bigint | undefined>;
  /** Stores a signed CRL unless a newer number was claimed since, and gives the lease back. */
  recordCrl(issuer: CrlIssuer, crl: { crlNumber: bigint; thisUpdate: Date; nextUpdate: Date; der: Uint8Array }): Promise<void>;
  /** A build that failed: gives `holder`'s lease back and marks the CRL stale again. */
  releaseCrlLease(issuer: CrlIssuer, holder: string): Promise<void>;
}
