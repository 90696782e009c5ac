import { rootCrlIssuer } from './interfaces/crl.js';
import type { NewAuditEntry } from './interfaces/audit.js';
import type { NewSubordinate, SubordinateRecord, SubordinateRevocation } from './interfaces/subordinates.js';

/** A subordinate_cas row as either backend returns it (PostgreSQL's BIGINT arrives as a string). */
export interface SubordinateRow {
  readonly serial: string;
  readonly label: string;
  readonly kind: 'subordinate' | 'istio';
  readonly root_generation: number;
  readonly subject: string;
  readonly not_before: number | string;
  readonly not_after: number | string;
  readonly der: Buffer;
  readonly pem: string;
  readonly constraints: string;
  readonly key_hash: string;
  readonly created_at: number | string;
  readonly status: 'valid' | 'revoked';
  readonly revoked_at: number | string | null;
  readonly revocation_reason: number | null;
}

export const SUBORDINATE_COLUMNS =
  'serial, label, kind, root_generation, subject, not_before, not_after, der, pem, constraints, key_hash, created_at, status, revoked_at, revocation_reason';

export function toSubordinate(r: SubordinateRow): SubordinateRecord {
  return {
    serial: r.serial,
    label: r.label,
    kind: r.kind,
    rootGeneration: r.root_generation,
    subject: r.subject,
    notBefore: new Date(Number(r.not_before)),
    notAfter: new Date(Number(r.not_after)),
    der: new Uint8Array(r.der),
    pem: r.pem,
    constraints: JSON.parse(r.constraints) as SubordinateRecord['constraints'],
    keyHash: r.key_hash,
    createdAt: new Date(Number(r.created_at)),
    status: r.status,
    revokedAt: r.revoked_at === null ? undefined : new Date(Number(r.revoked_at)),
    revocationReason: r.revocation_reason ?? undefined,
  };
}

/** The insert's values, in SUBORDINATE_COLUMNS order up to created_at, then status. */
export function subordinateValues(s: NewSubordinate): unknown[] {
  return [
    s.serial, s.label, s.kind, s.rootGeneration, s.subject, s.notBefore.getTime(), s.notAfter.getTime(), Buffer.from(s.der), s.pem,
    JSON.stringify({ permitted: s.constraints.permitted, excluded: s.constraints.excluded }), s.keyHash, s.createdAt.getTime(), 'valid',
  ];
}

/** The audit entry both ledgers write with a new subordinate, in the same transaction. */
export function subordinateIssueAuditEntry(s: NewSubordinate): NewAuditEntry {
  return {
    at: s.createdAt,
    actor: s.actor,
    action: 'subordinate-issue',
    subject: s.serial,
    detail: {
      label: s.label,
      kind: s.kind,
      subject: s.subject,
      rootGeneration: s.rootGeneration,
      notAfter: s.notAfter.toISOString(),
      permitted: s.constraints.permitted,
      excluded: s.constraints.excluded,
    },
  };
}

export function subordinateRevokeAuditEntry(r: SubordinateRevocation, rootGeneration: number): NewAuditEntry {
  // Not 'revoke': that one raises certificate.revoked, whose subscribers look the serial up among the leaves.
  return { at: r.revokedAt, actor: r.actor, action: 'subordinate-revoke', subject: r.serial, detail: { reason: r.reason, crl: rootCrlIssuer(rootGeneration) } };
}
