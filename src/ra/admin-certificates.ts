import { AcmeProblem } from '../core/problem.js';
import { ADMIN_ROLES, type AdminCertificateRecord, type AdminRole, type AdminTokenRecord } from '../ledger/ledger.js';
import { isAdminRole, NAME_SHAPE } from './admin-tokens.js';
import type { RaDeps } from './deps.js';

/**
 * Admin client certificates (admin.clientCertificates): signed by the admin issuer
 * (ca/admin-issuer.ts), never by the ACME intermediate, and mapped to a name and a role by the
 * ledger, which the admin listener asks on every request, so a revocation takes effect on the next
 * one. The certificate says who; only the ledger says what they may do.
 */
type CertDeps = Pick<RaDeps, 'ledger' | 'clock'>;

/** A client certificate's holder, as authenticateRequest hands it to the routes. */
export interface AdminCertificatePrincipal {
  readonly kind: 'certificate';
  readonly name: string;
  readonly role: AdminRole;
  readonly serial: string;
}

/** Who sent an admin request: a token's holder or a client certificate's. Both are `admin:<name>` in the audit log. */
export type AdminPrincipal = AdminTokenRecord | AdminCertificatePrincipal;

export const isAdminToken = (p: AdminPrincipal): p is AdminTokenRecord => !('kind' in p);

/** The longest and default life of an admin certificate (`--expires`). */
export const ADMIN_CERTIFICATE_DEFAULT_MS = 90 * 86_400_000;

export interface AdminCertificateRequest {
  readonly name: string;
  readonly role: string;
  /** Default: ADMIN_CERTIFICATE_DEFAULT_MS. */
  readonly expiresInMs?: number;
}

/** What the issuer is asked to sign (ca/admin-issuer.ts's AdminIssuer, narrowed). */
export interface AdminCertificateSigner {
  issue(req: { name: string; spki: Uint8Array; notBefore: Date; notAfter: Date }): Promise<{ serialNumber: string; notAfter: Date; toString(format: 'pem'): string }>;
}

/** Refuses a bad name, role or lifetime before anything is written (the CLI checks before it creates the issuer). */
export function checkAdminCertificateRequest(req: AdminCertificateRequest): { name: string; role: AdminRole; lifetimeMs: number } {
  if (!NAME_SHAPE.test(req.name)) {
    throw new AcmeProblem('malformed', `admin certificate name ${JSON.stringify(req.name)} must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`);
  }
  if (!isAdminRole(req.role)) throw new AcmeProblem('malformed', `role ${JSON.stringify(req.role)} is not one of ${ADMIN_ROLES.join(', ')}`);
  const lifetimeMs = req.expiresInMs ?? ADMIN_CERTIFICATE_DEFAULT_MS;
  if (lifetimeMs <= 0) throw new AcmeProblem('malformed', 'an admin certificate must expire after a positive duration');
  return { name: req.name, role: req.role, lifetimeMs };
}

/** The certificate's serial as the ledger keys it: lower-case hex of whole bytes (Node's TLS gives upper case). */
export const adminSerialKey = (serialHex: string): string => {
  const hex = serialHex.toLowerCase();
  return hex.length % 2 === 1 ? `0${hex}` : hex;
};

/** Signs a client certificate for `spki` and records its serial, name and role (audited `admin-cert-create` as `actor`). */
export async function createAdminCertificate(
  deps: CertDeps,
  signer: AdminCertificateSigner,
  req: AdminCertificateRequest & { readonly spki: Uint8Array },
  actor: string,
): Promise<AdminCertificateRecord & { readonly certificatePem: string }> {
  const checked = checkAdminCertificateRequest(req);
  const now = deps.clock.now();
  const signed = await signer.issue({ name: checked.name, spki: req.spki, notBefore: now, notAfter: new Date(now.getTime() + checked.lifetimeMs) });
  const record = { serial: adminSerialKey(signed.serialNumber), name: checked.name, role: checked.role, createdAt: now, notAfter: signed.notAfter };
  if ((await deps.ledger.adminCertificates.createAdminCertificate(record, actor)) === 'name-taken') {
    throw new AcmeProblem('malformed', `there is already an admin certificate named "${checked.name}"; revoke it first or choose another name`, { status: 409 });
  }
  return { ...record, revokedAt: undefined, certificatePem: signed.toString('pem') };
}

export async function revokeAdminCertificate(deps: CertDeps, name: string, actor: string): Promise<void> {
  if (!(await deps.ledger.adminCertificates.revokeAdminCertificate(name, deps.clock.now(), actor))) {
    throw new AcmeProblem('malformed', `there is no unrevoked admin certificate named ${JSON.stringify(name)}`, { status: 404 });
  }
}

/** A certificate's state as `admin cert list` says it. */
export function adminCertificateState(c: AdminCertificateRecord, now: Date): 'active' | 'expired' | 'revoked' {
  if (c.revokedAt) return 'revoked';
  if (c.notAfter <= now) return 'expired';
  return 'active';
}

const refused = (detail: string) => new AcmeProblem('unauthorized', detail, { status: 401 });

/**
 * The admin whose client certificate (already verified by TLS against the admin issuer alone) has
 * this serial, if the ledger knows it and it is neither revoked nor expired; else a 401 problem.
 * Reads only: nothing is written for a certificate's use.
 */
export async function authenticateAdminCertificate(deps: CertDeps, serialHex: string): Promise<AdminCertificatePrincipal> {
  const record = await deps.ledger.adminCertificates.findAdminCertificate(adminSerialKey(serialHex));
  if (!record) throw refused('this client certificate is not an admin certificate known here');
  const state = adminCertificateState(record, deps.clock.now());
  if (state !== 'active') throw refused(`this admin certificate (${record.name}) is ${state}`);
  return { kind: 'certificate', name: record.name, role: record.role, serial: record.serial };
}

/** The 401 of a client certificate TLS did not verify against the admin issuer (one from the ACME CA, say). */
export function unverifiedClientCertificate(reason: string | undefined): AcmeProblem {
  return refused(`the client certificate was not issued by the admin issuer (${reason ?? 'not verified'}): use one from certmint admin cert create, or a token`);
}
