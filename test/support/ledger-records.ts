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
 * Account a1 (key t1) with order o1 for a.example, created at `now` and expiring an hour later, and
 * a pending authorization for a.example under each of `authorizationIds` (each with its pending
 * http-01 challenge `<id>-c`): what the finalize and recovery tests of the ledger start from.
 */
export async function accountWithOrder(ledger: CertificateLedger, now: Date, authorizationIds: readonly string[] = ['z1']): Promise<void> {
  await ledger.createAccount(accountRecord('a1', 't1', now));
  await ledger.createOrder(
    {
      id: 'o1',
      accountId: 'a1',
      identifiers: [{ type: 'dns', value: 'a.example' }],
      notBefore: undefined,
      notAfter: undefined,
      expires: new Date(now.getTime() + 3_600_000),
      createdAt: now,
      authorizationIds: [...authorizationIds],
    },
    authorizationIds.map((id) => authorizationRecord(id, 'a1', 'a.example', now)),
  );
}

/**
 * A challenge's validation succeeded at `validatedAt`: the challenge (authorizationRecord's `<id>-c`
 * unless `challengeId` names another) and its authorization valid, the authorization until `expires`.
 * Throws when the ledger will not begin the challenge (another validation holds it, or it is done).
 */
export async function validateChallenge(
  ledger: CertificateLedger,
  authorizationId: string,
  o: { readonly validatedAt: Date; readonly expires: Date; readonly challengeId?: string },
): Promise<void> {
  const challengeId = o.challengeId ?? `${authorizationId}-c`;
  if (!(await ledger.beginChallenge(challengeId))) throw new Error(`the ledger did not begin challenge ${challengeId}`);
  await ledger.completeChallenge({
    challengeId,
    authorizationId,
    challengeStatus: 'valid',
    authorizationStatus: 'valid',
    validatedAt: o.validatedAt,
    authorizationExpires: o.expires,
    error: undefined,
  });
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

/**
 * The inventory the filter tests and the query-plan tests share: accounts a1 and a2, five
 * certificates expiring at -2 to 30 days from `now` (01–05; 02 revoked), names chosen for the
 * exact, case and "*.suffix" filters.
 */
export async function addSampleInventory(ledger: CertificateLedger, now: Date): Promise<void> {
  const add = (serial: string, names: string[], notAfterDays: number, account = 'a1') =>
    ledger.insertCertificate(certificateRecord(serial, names, notAfterDays, now, account));
  await ledger.createAccount({ id: 'a1', keyThumbprint: 't1', jwk: {}, contact: [], termsOfServiceAgreed: true, createdAt: now });
  await ledger.createAccount({ id: 'a2', keyThumbprint: 't2', jwk: {}, contact: [], termsOfServiceAgreed: true, createdAt: now });
  await add('01', ['web.payments.svc.cluster.local'], 3);
  await add('02', ['api.payments.svc.cluster.local', 'api.internal'], 30);
  await add('03', ['old.example.internal'], -2);
  await add('04', ['svc.cluster.local.evil.test'], 5, 'a2');
  await add('05', ['Mixed.Case.Internal'], 6, 'a2');
  await ledger.revokeCertificate({ serial: '02', reason: 4, revokedAt: now, blockKey: false, actor: 'test' });
}
