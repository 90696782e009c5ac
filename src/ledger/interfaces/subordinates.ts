/** What signed a subordinate: certmint ca sign-subordinate (any CA's CSR) or ca issue-istio-ca. */
export type SubordinateKind = 'subordinate' | 'istio';

/** A CA certificate one of certmint's roots signed for another system (Vault, istiod, …). */
export interface NewSubordinate {
  /** Lower-case hex, as certificates' serials. */
  readonly serial: string;
  readonly label: string;
  readonly kind: SubordinateKind;
  /** The root that signed it: its CRL lists the subordinate once revoked. */
  readonly rootGeneration: number;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly der: Uint8Array;
  readonly pem: string;
  /** The name constraints written into it, in their text form. */
  readonly constraints: { readonly permitted: readonly string[]; readonly excluded: readonly string[] };
  /** SHA-256 of the subject SPKI, hex. */
  readonly keyHash: string;
  readonly createdAt: Date;
  /** Who signed it, for the audit entry (operator:<name>). */
  readonly actor: string;
}

export interface SubordinateRecord extends Omit<NewSubordinate, 'actor'> {
  readonly status: 'valid' | 'revoked';
  readonly revokedAt: Date | undefined;
  readonly revocationReason: number | undefined;
}

export interface SubordinateRevocation {
  readonly serial: string;
  readonly reason: number;
  readonly revokedAt: Date;
  readonly actor: string;
}

export type SubordinateRevocationOutcome = 'revoked' | 'alreadyRevoked' | 'unknown';

/** One entry of a root's CRL (the shape ca/ signs: RevokedEntry). */
export interface RevokedSubordinate {
  readonly serialHex: string;
  readonly revokedAt: Date;
  readonly reason: number;
}

export interface SubordinatesReader {
  getSubordinate(serial: string): Promise<SubordinateRecord | undefined>;
  /** Soonest expiry first; with `notAfterBefore`, only the valid ones that end before it (and have not ended by `now`). */
  listSubordinates(filter?: { readonly now: Date; readonly notAfterBefore: Date }): Promise<SubordinateRecord[]>;
  /** What the root generation's CRL lists (RFC 5280 §5: an expired one is dropped). */
  revokedSubordinates(now: Date, rootGeneration: number): Promise<RevokedSubordinate[]>;
}

/** Subordinate CAs (migrations/0018_subordinates.sql): each change with its audit entry, in one transaction. */
export interface SubordinatesLedger extends SubordinatesReader {
  /** Records a new subordinate and its 'subordinate-issue' audit entry. */
  recordSubordinate(s: NewSubordinate): Promise<void>;
  /** valid → revoked, its 'revoke' audit entry, and its root's CRL marked stale. */
  revokeSubordinate(r: SubordinateRevocation): Promise<SubordinateRevocationOutcome>;
}
