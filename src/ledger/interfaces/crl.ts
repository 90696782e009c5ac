import type { RevokedColumns } from '../../core/revoked-columns.js';

/**
 * Whose CRL: an intermediate generation's (of its leaves: 'intermediate' for generation 1,
 * 'intermediate-<n>' for generation n >= 2), or a root's (of the intermediates it issued: 'root'
 * for root 1, 'root-<n>' for root n >= 2, certmint ca rotate-root).
 */
export type CrlIssuer = 'intermediate' | `intermediate-${number}` | 'root' | `root-${number}`;

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

/** The generation of an intermediate's CRL issuer; undefined for a root's. */
export function generationOfCrlIssuer(issuer: CrlIssuer): number | undefined {
  if (rootGenerationOfCrlIssuer(issuer) !== undefined) return undefined;
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
   */
  listRevokedUnexpired(now: Date, issuerGeneration: number): Promise<RevokedColumns>;
  /** The latest notAfter of the generation's certificates (any status); undefined when it issued none. */
  lastNotAfter(issuerGeneration: number): Promise<Date | undefined>;
  /** Valid (not revoked), unexpired certificates per generation; generations with none are absent. */
  liveCertificatesByGeneration(now: Date): Promise<ReadonlyMap<number, number>>;
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
