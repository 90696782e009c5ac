import { CaKeyUnavailableError } from '../ca/ca-key.js';
import { parseCsr } from '../ca/csr.js';
import type { ParsedCsr } from '../ca/types.js';
import { AcmeProblem } from '../core/problem.js';
import { checkIntermediateConstraints } from './intermediate-constraints.js';
import type { Identifier } from '../core/identifier.js';
import type { FinalizeOutcome } from '../ledger/ledger.js';
import type { AccountRecord, AuthorizationRecord, IdentifierAuthorization } from '../ledger/records.js';
import { subjectKeyProblem } from '../policy/keys.js';
import { profileKeyProblem } from '../policy/profiles.js';
import { leafValidity } from '../policy/validity.js';
import { chosenProfile, validityFor, type RaDeps } from './deps.js';
import { currentOrderState } from './order-status.js';
import { loadOrder, type OrderView } from './orders.js';
import { keyHashOfSpki, spkiOfJwk } from './keys.js';
import { recheckCaa } from './caa-recheck.js';
import { checkPreAuthorizations, preAuthorizationWithdrawn } from './pre-authorization.js';
import { certifiedIdentifiers, signLeaf } from './certificates.js';

const B64URL = /^[A-Za-z0-9_-]+$/;

/** RFC 8555 §7.4: the CSR must ask for exactly the order's identifiers (SANs, plus CN if present). */
function checkCsrIdentifiers(csr: ParsedCsr, ordered: readonly Identifier[]): void {
  const key = (id: Identifier) => `${id.type}:${id.value.toLowerCase()}`;
  const requested = new Map(csr.sans.map((id) => [key(id), id] as const));
  if (csr.commonName !== undefined) {
    const cn: Identifier = { type: 'dns', value: csr.commonName };
    const asIp = csr.sans.find((s) => s.type === 'ip' && s.value === csr.commonName);
    requested.set(key(asIp ?? cn), asIp ?? cn);
  }
  const wanted = new Map(ordered.map((id) => [key(id), id] as const));
  const missing = [...wanted.keys()].filter((k) => !requested.has(k)).map((k) => wanted.get(k)!.value);
  const extra = [...requested.keys()].filter((k) => !wanted.has(k)).map((k) => requested.get(k)!.value);
  if (missing.length > 0 || extra.length > 0) {
    const parts = [];
    if (extra.length > 0) parts.push(`names not in the order: ${extra.join(', ')}`);
    if (missing.length > 0) parts.push(`order names missing from the CSR: ${missing.join(', ')}`);
    throw new AcmeProblem('badCSR', `the CSR does not match the order's identifiers (${parts.join('; ')})`);
  }
}

async function checkedCsr(deps: RaDeps, account: AccountRecord, csrInput: unknown): Promise<ParsedCsr> {
  if (typeof csrInput !== 'string' || !B64URL.test(csrInput)) {
    throw new AcmeProblem('malformed', 'finalize needs "csr": the base64url (no padding) DER of a PKCS#10 request');
  }
  let csr: ParsedCsr;
  try {
    csr = await parseCsr(new Uint8Array(Buffer.from(csrInput, 'base64url')), deps.crypto);
  } catch (e) {
    throw new AcmeProblem('badCSR', `the CSR could not be parsed: ${(e as Error).message}`);
  }
  if (!csr.signatureValid) throw new AcmeProblem('badCSR', 'the CSR signature does not verify');
  if (csr.unsupportedSans.length > 0) {
    throw new AcmeProblem(
      'badCSR',
      `the CSR asks for names this server does not certify: ${csr.unsupportedSans.slice(0, 5).join(', ')} (only DNS names and IP addresses)`,
    );
  }
  const keyProblem = subjectKeyProblem(csr.key);
  if (keyProblem) throw new AcmeProblem('badCSR', `the CSR public key is refused: ${keyProblem}`);
  // csr.spki is canonical (ca/csr.ts): a blocked key or the account key in another spelling is the same key here.
  if (await deps.ledger.isKeyBlocked(keyHashOfSpki(csr.spki))) {
    throw new AcmeProblem('badPublicKey', 'the CSR public key was reported compromised (revoked for keyCompromise); use a new key');
  }
  if (spkiOfJwk(account.jwk).equals(csr.spki)) {
    throw new AcmeProblem('badCSR', 'the CSR uses the account key; certificate keys must differ from the account key');
  }
  return csr;
}

/** How each authorization of the order was won, for the `issue` audit entry (`certmint certs show`). */
function authorizedBy(authzs: readonly AuthorizationRecord[]): IdentifierAuthorization[] {
  return authzs.flatMap((a): IdentifierAuthorization[] => {
    const identifier = `${a.wildcard ? '*.' : ''}${a.identifier.value}`;
    if (a.preAuthorizedEabKid !== undefined) return [{ identifier, method: 'policy', eabKid: a.preAuthorizedEabKid }];
    const validated = a.challenges.find((c) => c.status === 'valid');
    return validated ? [{ identifier, method: validated.type }] : [];
  });
}

/**
 * RFC 8555 §7.4 finalize. The certificate is signed and committed to the ledger before this
 * returns, so the order comes back valid with its certificate URL (no client needs to poll).
 */
export async function finalizeOrder(
  deps: RaDeps,
  account: AccountRecord,
  orderId: string,
  payload: Readonly<Record<string, unknown>> | undefined,
): Promise<OrderView> {
  const { order, authzs } = await loadOrder(deps, account, orderId);
  const state = currentOrderState(order, authzs, deps.clock.now());
  if (state.status !== 'ready') {
    throw new AcmeProblem('orderNotReady', `the order is ${state.status}, not ready; it cannot be finalized now`);
  }
  const csr = await checkedCsr(deps, account, payload?.csr);
  checkCsrIdentifiers(csr, order.identifiers);
  // An order made before ca rotate-intermediate (and a restart) may ask for more than the intermediate now signs.
  checkIntermediateConstraints(deps.ca.nameConstraints, order.identifiers);
  const { name: profileName, profile } = chosenProfile(deps, account, order.profile);
  const keyTypeProblem = profileKeyProblem(profileName, profile, csr.key);
  if (keyTypeProblem) throw new AcmeProblem('badCSR', `the CSR public key is refused: ${keyTypeProblem}`);
  // Refused here, the order stays ready: once the zone allows this CA again, finalize succeeds.
  await recheckCaa(deps, account, authzs);
  // Refused here the order stays ready but can never issue: its client makes a new order, which gets challenges.
  await checkPreAuthorizations(deps, account, authzs, deps.clock.now());
  if (!(await deps.ledger.beginFinalize(order.id))) {
    throw new AcmeProblem('orderNotReady', 'the order is already being finalized');
  }
  const now = deps.clock.now();
  const { notBefore, notAfter } = leafValidity(now, order, validityFor(deps, account, profile));
  const identifiers = certifiedIdentifiers(order.identifiers);
  const commonName =
    profile.commonName && csr.commonName !== undefined ? identifiers.find((i) => i.value === csr.commonName!.toLowerCase())?.value : undefined;
  let outcome: FinalizeOutcome;
  let serial: string;
  try {
    const leaf = await signLeaf(deps, profile, { spki: csr.spki, identifiers, commonName, notBefore, notAfter });
    serial = leaf.serialHex;
    // Committed only if what was checked above still holds now (FinalizeOutcome).
    outcome = await deps.ledger.completeFinalize(order.id, {
      serial: leaf.serialHex,
      accountId: account.id,
      orderId: order.id,
      der: leaf.der,
      // The chain of the intermediate that signed it (the active one), as it was at issuance.
      chainPem: leaf.chainPem,
      issuerGeneration: leaf.issuerGeneration,
      ...(leaf.crlPartition !== undefined ? { crlPartition: leaf.crlPartition } : {}),
      identifiers,
      commonName,
      keyHash: keyHashOfSpki(csr.spki),
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      createdAt: now,
      authorizedBy: authorizedBy(authzs),
      ...(order.profile !== undefined ? { profile: order.profile } : {}),
    }, deps.clock.now());
  } catch (e) {
    if (e instanceof CaKeyUnavailableError) {
      // Nothing was signed, so nothing was committed: the order reads ready again and the client
      // finalizes it once the key is back (the answer is 503 with Retry-After). If the ledger
      // cannot take even that, the order is failed once it can (UnsettledWork), not left processing.
      const failure = new AcmeProblem('serverInternal', `the CA key is unavailable (${e.message}); create a new order and retry`);
      await deps.ledger.abandonFinalize(order.id).catch(() => deps.unsettled.orders.set(order.id, failure.toDocument()));
      throw e;
    }
    const problem = new AcmeProblem('serverInternal', 'the certificate could not be issued; create a new order and retry');
    // When the ledger took nothing (its database went away), it cannot take this either: the
    // order is then failed once the ledger is back (UnsettledWork), not left processing.
    await deps.ledger.failOrder(order.id, problem.toDocument()).catch(() => deps.unsettled.orders.set(order.id, problem.toDocument()));
    throw Object.assign(problem, { cause: e });
  }
  if (outcome.outcome !== 'issued') await refuseAtCommit(deps, order.id, outcome);
  deps.metrics?.certificateIssued(profileName);
  // The order as the commit left it, without reading it back: completeFinalize changed its status
  // and certificate serial and nothing else, and nothing changes a valid order after (failOrder
  // spares it, retention keeps orders with a certificate).
  return { order: { ...order, status: 'valid', certificateSerial: serial, error: undefined }, state: { status: 'valid', error: undefined } };
}

/**
 * A decision committed while the certificate was signed (an authorization or the account
 * deactivated, the key reported compromised) refused its commit: nothing was issued. RFC 8555
 * §7.1.6: a processing order moves to invalid on an error or an authorization failure (there is no
 * way back to ready), so the order becomes invalid with the problem the client is answered; its
 * client creates a new order (with a new key, for a blocked one).
 */
async function refuseAtCommit(deps: RaDeps, orderId: string, refusal: Exclude<FinalizeOutcome, { outcome: 'issued' }>): Promise<never> {
  const notIssued = 'while this order was being finalized; no certificate was issued';
  let problem: AcmeProblem;
  switch (refusal.outcome) {
    case 'orderNotProcessing':
      // Another process failed it as interrupted work: its status and error stand.
      throw new AcmeProblem('orderNotReady', `the order became ${refusal.status} ${notIssued}`);
    case 'authorizationNotValid':
      problem = new AcmeProblem('unauthorized', `the authorization for ${refusal.identifier.value} became ${refusal.status} ${notIssued}; create a new order`);
      break;
    case 'accountNotValid':
      problem = new AcmeProblem('unauthorized', `the account became ${refusal.status} ${notIssued}`);
      break;
    case 'eabKeyWithdrawn':
      problem = preAuthorizationWithdrawn(
        refusal.revokedAt
          ? `EAB key ${refusal.kid} was revoked at ${refusal.revokedAt.toISOString()} ${notIssued}`
          : `EAB key ${refusal.kid} expired at ${refusal.expiredAt?.toISOString() ?? 'that moment'} ${notIssued}`,
      );
      break;
    case 'keyBlocked':
      problem = new AcmeProblem(
        'badPublicKey',
        `the CSR public key was reported compromised (revoked for keyCompromise) ${notIssued}; create a new order with a new key`,
      );
      break;
  }
  // As a failed issuance: if the ledger cannot take this now, the order is failed once it can.
  await deps.ledger.failOrder(orderId, problem.toDocument()).catch(() => deps.unsettled.orders.set(orderId, problem.toDocument()));
  throw problem;
}
