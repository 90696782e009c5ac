import type { NewAccount, NewAuthorization, NewCertificate } from '../../src/ledger/records.js';
import type { AuditEntry, CertificateLedger } from '../../src/ledger/ledger.js';

const DAY = 86_400_000;

/** A new account row for ledger tests; the thumbprint doubles as the key's x so keys differ. */
export function accountRecord(id: string, thumbprint: string, now: Date): NewAccount {
  return {
    id,
    keyThumbprint: thumbprint,
    jwk: { kty: 'EC', crv: 'P-256', x: `x-${thumbprint}`, y: 'y' },
    contact: ['mailto:a@example.com'],
    termsOfServiceAgreed: true,
    createdAt: now,
  };
}

/** A pending dns authorization for ledger tests, with one pending http-01 challenge. */
export function authorizationRecord(id: string, accountId: string, value: string, now: Date): NewAuthorization {
  return {
    id,
    accountId,
    identifier: { type: 'dns', value },
    wildcard: false,
    expires: new Date(now.getTime() + DAY),
    createdAt: now,
    challenges: [
      { id: `${id}-c`, authorizationId: id, type: 'http-01', token: `tok-${id}`, status: 'pending', validatedAt: undefined, error: undefined },
    ],
  };
}

/**
 * A subject's audit trail without the entry that records its creation ('issue' of a certificate,
 * 'account-create' of an account): what tests of later events (revoke, renew-early, key change) check.
 */
export async function auditAfterCreation(ledger: CertificateLedger, subject: string): Promise<AuditEntry[]> {
  return (await ledger.auditTrail(subject)).filter((e) => e.action !== 'issue' && e.action !== 'account-create');
}

/** A certificate row for ledger tests (no real DER): valid from a day before `now` for `notAfterDays` after it. */
export function certificateRecord(serial: string, names: readonly string[], notAfterDays: number, now: Date, accountId = 'a1'): NewCertificate {
  return {
    serial,
    accountId,
    orderId: undefined,
    der: new Uint8Array([1]),
    chainPem: '',
    identifiers: names.map((value) => ({ type: 'dns' as const, value })),
    commonName: undefined,
    keyHash: serial,
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + notAfterDays * DAY),
    createdAt: now,
  };
}
