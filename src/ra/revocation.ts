import { X509Certificate } from 'node:crypto';
import { CaKeyUnavailableError } from '../ca/ca-key.js';
import { canonicalSpki } from '../core/canonical-key.js';
import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord, CertificateRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';
import { spkiOfJwk } from './keys.js';
import { takeRevocationSlot } from './rate-limits.js';

/** RFC 5280 §5.3.1 CRLReason codes certmint accepts (as Boulder does): the ones a subscriber can assert. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
} as const;
export type RevocationReasonName = keyof typeof REVOCATION_REASONS;
const ALLOWED_CODES = new Set<number>(Object.values(REVOCATION_REASONS));

export function reasonName(code: number): string {
  return (Object.entries(REVOCATION_REASONS).find(([, c]) => c === code)?.[0] as string | undefined) ?? `reason ${code}`;
}

/** Who asks for the revocation, as the JWS (or the admin CLI) proved it. */
export type Revoker =
  | { readonly kind: 'account'; readonly account: AccountRecord }
  | { readonly kind: 'certificate-key'; readonly jwk: Readonly<Record<string, unknown>> }
  | { readonly kind: 'operator'; readonly name: string }
  /** A holder of an operator admin token, through the admin API. */
  | { readonly kind: 'admin'; readonly name: string };

export function checkReason(reason: unknown): number {
  if (reason === undefined) return REVOCATION_REASONS.unspecified;
  if (typeof reason !== 'number' || !Number.isInteger(reason) || !ALLOWED_CODES.has(reason)) {
    throw new AcmeProblem(
      'badRevocationReason',
      `revocation reason ${JSON.stringify(reason)} is not accepted; use one of ${Object.entries(REVOCATION_REASONS)
        .map(([n, c]) => `${c} (${n})`)
        .join(', ')}`,
    );
  }
  return reason;
}

/** RFC 8555 §7.6: the ordering account, an account with valid authorizations for every name, or the certificate key. */
async function checkRevoker(deps: RaDeps, cert: CertificateRecord, der: Buffer, who: Revoker): Promise<void> {
  switch (who.kind) {
    case 'operator':
    case 'admin':
      return;
    case 'certificate-key': {
      // Both sides canonical (core/canonical-key.ts): a certificate issued before keys were
      // canonicalised may hold a compressed point, and the JWS may spell its key another way.
      const certSpki = canonicalSpki(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }))?.der;
      if (certSpki === undefined || !certSpki.equals(spkiOfJwk(who.jwk))) {
        throw new AcmeProblem('unauthorized', 'the request is signed by a key that is not this certificate\'s key');
      }
      return;
    }
    case 'account': {
      if (cert.accountId === who.account.id) return;
      const valid = await deps.ledger.findValidAuthorizations(who.account.id, cert.identifiers, deps.clock.now());
      const covered = new Set(
        valid.map((a) => `${a.identifier.type}:${a.wildcard ? '*.' : ''}${a.identifier.value.toLowerCase()}`),
      );
      const missing = cert.identifiers.filter((i) => !covered.has(`${i.type}:${i.value.toLowerCase()}`));
      if (missing.length > 0) {
        throw new AcmeProblem(
          'unauthorized',
          `this account did not order the certificate and holds no valid authorization for ${missing.map((i) => i.value).join(', ')}`,
        );
      }
    }
  }
}

/**
 * Revokes a certificate certmint issued (RFC 8555 §7.6). The revocation, its audit entry, the
 * blocked key (keyCompromise proven with the certificate key) and the stale-CRL mark are one
 * ledger transaction, answered at once; the CRL follows within crl.minInterval (whoever listens
 * to onRevoked asks for it, and the CRL publisher coalesces revocations into one build).
 */
export async function revokeCertificate(
  deps: RaDeps,
  certificateInput: unknown,
  reasonInput: unknown,
  who: Revoker,
): Promise<CertificateRecord> {
  if (typeof certificateInput !== 'string' || !/^[A-Za-z0-9_-]+$/.test(certificateInput)) {
    throw new AcmeProblem('malformed', '"certificate" must be the base64url DER of the certificate to revoke');
  }
  const reason = checkReason(reasonInput);
  const der = Buffer.from(certificateInput, 'base64url');
  let serial: string;
  try {
    serial = new X509Certificate(der).serialNumber.toLowerCase();
  } catch (e) {
    throw new AcmeProblem('malformed', `"certificate" is not a DER certificate: ${(e as Error).message}`);
  }
  const cert = await deps.ledger.getCertificate(serial);
  // A serial we know with other bytes is someone else's certificate (or a forgery): not ours to revoke.
  if (!cert || !der.equals(Buffer.from(cert.der))) {
    throw new AcmeProblem('malformed', `certificate ${serial} was not issued by this CA`, { status: 404 });
  }
  return revokeIssued(deps, cert, reason, who);
}

/**
 * Whose hourly revocation allowance (limits.revocationsPerAccountPerHour) a revocation spends.
 * An account spends its own, whichever certificate it revokes. A request signed by the
 * certificate's own key has no account: it spends the allowance of the account that ordered the
 * certificate, because that account is who can make such keys in bulk (every order brings a new
 * key), so signing with certificate keys instead of the account key does not step around the limit.
 * A certificate without an account (issued outside ACME) spends its own key's, once at most.
 * The operator (admin CLI) and an admin (admin API, operator role) are never limited: undefined.
 */
function revocationSubject(cert: CertificateRecord, who: Revoker): string | undefined {
  switch (who.kind) {
    case 'operator':
    case 'admin':
      return undefined;
    case 'account':
      return who.account.id;
    case 'certificate-key':
      return cert.accountId ?? `key:${cert.keyHash}`;
  }
}

/** Revocation of the certificate with this serial (lower-case hex), by an operator or an admin: 404 when the ledger has none. */
export async function revokeBySerial(deps: RaDeps, serial: string, reason: number, who: Extract<Revoker, { kind: 'operator' | 'admin' }>): Promise<CertificateRecord> {
  const cert = await deps.ledger.getCertificate(serial);
  if (!cert) throw new AcmeProblem('malformed', `no certificate with serial ${serial} in this ledger; nothing was revoked`, { status: 404 });
  return revokeIssued(deps, cert, reason, who);
}

/** Revocation of a certificate already found in the ledger (the admin CLI goes straight here). */
export async function revokeIssued(
  deps: RaDeps,
  cert: CertificateRecord,
  reason: number,
  who: Revoker,
): Promise<CertificateRecord> {
  await checkRevoker(deps, cert, Buffer.from(cert.der), who);
  // Counted only once the revoker is proven (a forged request spends nobody's allowance), and not
  // for a certificate already revoked (that changes nothing and builds no CRL).
  if (cert.status === 'revoked') throw new AcmeProblem('alreadyRevoked', `certificate ${cert.serial} is already revoked`);
  // A revocation is answered once committed, and its CRL follows (the CRL publisher). While the
  // CA key cannot sign, that CRL could not follow: refuse before anything is committed or counted,
  // so every revocation a client was told about is in the ledger and on the next CRL.
  const keyState = deps.ca.keyState?.();
  if (keyState && !keyState.ready) throw new CaKeyUnavailableError(keyState.reason, keyState.retryAfterSeconds);
  const counted = revocationSubject(cert, who);
  if (counted !== undefined) await takeRevocationSlot(deps, counted);
  const actor = who.kind === 'account' ? `account:${who.account.id}` : who.kind === 'certificate-key' ? 'certificate-key' : `${who.kind}:${who.name}`;
  const outcome = await deps.ledger.revokeCertificate({
    serial: cert.serial,
    reason,
    revokedAt: deps.clock.now(),
    blockKey: reason === REVOCATION_REASONS.keyCompromise && who.kind === 'certificate-key',
    actor,
  });
  if (outcome === 'alreadyRevoked') throw new AcmeProblem('alreadyRevoked', `certificate ${cert.serial} is already revoked`);
  if (outcome === 'unknown') throw new AcmeProblem('malformed', `certificate ${cert.serial} was not issued by this CA`, { status: 404 });
  deps.onRevoked?.(cert.serial);
  return (await deps.ledger.getCertificate(cert.serial))!;
}
