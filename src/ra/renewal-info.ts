import type { CertificateAuthority } from '../ca/types.js';
import { identifierKey, type Identifier } from '../core/identifier.js';
import { AcmeProblem } from '../core/problem.js';
import type { RenewalState } from '../ledger/ledger.js';
import type { AccountRecord, OrderReplacement } from '../ledger/records.js';
import type { RaDeps } from './deps.js';
import { currentOrderState } from './order-status.js';

const HOUR = 3_600_000;
const SECOND = 1000;
/** Longer than any certID of an AKI up to 64 octets and a 20-octet serial: bounds the work per request. */
const MAX_CERT_ID_LENGTH = 128;

/** An RFC 9773 §4.1 certID, decoded. */
export interface CertId {
  /** The AKI keyIdentifier, lower-case hex. */
  readonly keyIdHex: string;
  /** The serial's DER INTEGER content octets, lower-case hex: how the ledger keys certificates. */
  readonly serialHex: string;
}

/** RFC 9773 §4.2 suggestedWindow, and explanationURL when an operator moved it. */
export interface RenewalWindow {
  readonly start: Date;
  readonly end: Date;
  readonly explanationUrl?: string;
}

/**
 * The AKI keyIdentifiers of the leaves this CA signed (each intermediate generation's SKI),
 * computed once per RA: a leaf of an older generation keeps its renewal info after a rotation.
 */
export function issuerKeyIdsOf(ca: CertificateAuthority): ReadonlySet<string> {
  return new Set(ca.generations.map((g) => g.keyIdHex));
}

/** One unpadded base64url part, decoded; only the canonical spelling of its bytes is accepted. */
function decodePart(part: string, what: string): Buffer {
  if (part === '') throw new AcmeProblem('malformed', `the certID has an empty ${what}`);
  if (!/^[A-Za-z0-9_-]+$/.test(part)) {
    throw new AcmeProblem('malformed', `the certID's ${what} is not unpadded base64url (RFC 9773 §4.1 strips "=")`);
  }
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) {
    throw new AcmeProblem('malformed', `the certID's ${what} is not canonical base64url (wrong length or trailing bits)`);
  }
  return bytes;
}

/**
 * Parses base64url(AKI keyIdentifier) "." base64url(serial) (RFC 9773 §4.1), strictly: the serial
 * must be the content octets of a positive, minimal DER INTEGER of at most 20 octets (RFC 5280
 * §4.1.2.2), so one certificate has exactly one certID.
 */
export function parseCertId(text: string): CertId {
  if (text.length > MAX_CERT_ID_LENGTH) throw new AcmeProblem('malformed', `the certID is longer than ${MAX_CERT_ID_LENGTH} characters`);
  const parts = text.split('.');
  if (parts.length !== 2) {
    throw new AcmeProblem('malformed', 'a certID is base64url(AKI keyIdentifier) "." base64url(serial number), with exactly one "."');
  }
  const keyId = decodePart(parts[0]!, 'key identifier');
  const serial = decodePart(parts[1]!, 'serial number');
  if (serial.length > 20) throw new AcmeProblem('malformed', 'the certID serial number is longer than 20 octets (RFC 5280 §4.1.2.2)');
  if (serial[0]! >= 0x80) {
    throw new AcmeProblem(
      'malformed',
      'the certID serial number is negative: a serial whose first byte is 0x80 or more keeps the leading 0x00 of its DER encoding',
    );
  }
  if (serial[0] === 0 && (serial.length === 1 || serial[1]! < 0x80)) {
    throw new AcmeProblem('malformed', 'the certID serial number is not minimal DER: a leading 0x00 only precedes a byte of 0x80 or more');
  }
  return { keyIdHex: keyId.toString('hex'), serialHex: serial.toString('hex') };
}

/**
 * RFC 9773 §4.2. By default the middle of the last third of the lifetime, L/10 wide (Let's
 * Encrypt's choice); revoked or marked by an operator: an hour that has already ended, so ARI
 * clients renew at their next check.
 */
export function suggestedWindow(s: RenewalState): RenewalWindow {
  const moved = [s.revokedAt, s.renewEarly?.at].filter((d): d is Date => d !== undefined).map((d) => d.getTime());
  const explanation = s.renewEarly?.explanationUrl !== undefined ? { explanationUrl: s.renewEarly.explanationUrl } : {};
  if (moved.length > 0) {
    // Whole seconds (RFC 3339 as we write it), rounded down so the end is never after the mark.
    const end = Math.floor(Math.min(...moved) / SECOND) * SECOND;
    return { start: new Date(end - HOUR), end: new Date(end), ...explanation };
  }
  const notBefore = s.notBefore.getTime();
  const lifetime = s.notAfter.getTime() - notBefore;
  // start = notBefore + 2L/3 - L/20, end = notBefore + 2L/3 + L/20, widened to whole seconds.
  const start = Math.floor((notBefore + (lifetime * 37) / 60) / SECOND) * SECOND;
  const end = Math.max(Math.ceil((notBefore + (lifetime * 43) / 60) / SECOND) * SECOND, start + SECOND);
  return { start: new Date(start), end: new Date(end), ...explanation };
}

/** RFC 9773 §4.1 GET renewalInfo/<certID>: unknown issuer or serial is a 404. */
export async function renewalInfo(deps: RaDeps, certIdText: string): Promise<RenewalWindow> {
  const id = parseCertId(certIdText);
  if (!deps.issuerKeyIds.has(id.keyIdHex)) {
    throw new AcmeProblem('malformed', 'the certID names a certificate of another issuer (its key identifier is not this CA\'s)', { status: 404 });
  }
  const state = await deps.ledger.getRenewalState(id.serialHex);
  if (!state) throw new AcmeProblem('malformed', `this CA issued no certificate with serial ${id.serialHex}`, { status: 404 });
  return suggestedWindow(state);
}

/**
 * RFC 9773 §5 newOrder "replaces", checked before the order is written: a certificate of this CA
 * and this account, sharing an identifier with the order, not replaced by an order that is not
 * invalid. The result is spread into the new order; the ledger records it in the same transaction.
 */
export async function checkReplaces(
  deps: RaDeps,
  account: AccountRecord,
  identifiers: readonly Identifier[],
  input: unknown,
): Promise<{ readonly replacement?: OrderReplacement }> {
  if (input === undefined) return {};
  if (typeof input !== 'string') throw new AcmeProblem('malformed', '"replaces" must be a certID string (RFC 9773 §5)');
  const id = parseCertId(input);
  const cert = deps.issuerKeyIds.has(id.keyIdHex) ? await deps.ledger.getCertificate(id.serialHex) : undefined;
  if (!cert || cert.accountId !== account.id) {
    throw new AcmeProblem('unauthorized', '"replaces" names no certificate that this CA issued to this account');
  }
  const ordered = new Set(identifiers.map(identifierKey));
  if (!cert.identifiers.some((i) => ordered.has(identifierKey(i)))) {
    throw new AcmeProblem('malformed', `the order shares no identifier with certificate ${cert.serial}, which it says it replaces`);
  }
  const holder = await deps.ledger.replacingOrder(cert.serial);
  if (holder !== undefined) {
    const order = await deps.ledger.getOrder(holder);
    const status = order && currentOrderState(order, await deps.ledger.getAuthorizations(order.authorizationIds), deps.clock.now()).status;
    if (status !== undefined && status !== 'invalid') {
      throw new AcmeProblem('alreadyReplaced', `certificate ${cert.serial} is already replaced by order ${holder}, which is ${status}`);
    }
  }
  return { replacement: { certId: input, serial: cert.serial, ...(holder !== undefined ? { supersedes: holder } : {}) } };
}

export interface RenewEarlyRequest {
  /** Undefined: every valid, unexpired certificate. */
  readonly serial?: string;
  readonly explanationUrl?: string;
  /** Who asks, as the audit log names it ("operator:<name>"). */
  readonly actor: string;
}

/**
 * Moves the ARI window of one certificate, or all, into the past (the CA-compromise drill): ARI
 * clients renew at their next check. Returns the serials newly marked.
 */
export async function renewEarly(deps: RaDeps, req: RenewEarlyRequest): Promise<string[]> {
  if (req.explanationUrl !== undefined) checkExplanationUrl(req.explanationUrl);
  const now = deps.clock.now();
  if (req.serial !== undefined) {
    const cert = await deps.ledger.getCertificate(req.serial);
    if (!cert) throw new AcmeProblem('malformed', `no certificate with serial ${req.serial} in this ledger`, { status: 404 });
    if (cert.status === 'revoked') {
      throw new AcmeProblem('malformed', `certificate ${req.serial} is revoked: ARI already tells its clients to renew it now`);
    }
    if (cert.notAfter <= now) throw new AcmeProblem('malformed', `certificate ${req.serial} has expired; there is nothing to renew early`);
  }
  return deps.ledger.markRenewEarly({
    at: now,
    actor: req.actor,
    ...(req.serial !== undefined ? { serial: req.serial } : {}),
    ...(req.explanationUrl !== undefined ? { explanationUrl: req.explanationUrl } : {}),
  });
}

/** RFC 9773 §4.2: explanationURL is a page people read, so an absolute http(s) URL. */
function checkExplanationUrl(text: string): void {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new AcmeProblem('malformed', `the explanation URL "${text}" is not an absolute http:// or https:// URL`);
  }
}
