import { createHmac, timingSafeEqual } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { canonicalJwk } from '../core/canonical-key.js';
import { randomId } from '../core/ids.js';
import { AcmeProblem } from '../core/problem.js';
import type { EabKeyRecord } from '../ledger/records.js';
import type { RaDeps } from './deps.js';

/** Seals secrets with a key kept outside the ledger (ca/SecretBox). */
export interface SecretSealer {
  seal(plain: Uint8Array, aad: string): Uint8Array;
  /** @throws when the sealed value was not made by this key for this aad. */
  open(sealed: Uint8Array, aad: string): Uint8Array;
}

export interface NewEabKeyRequest {
  readonly label: string;
  readonly policy?: string;
  readonly expiresInMs?: number;
  readonly reusable?: boolean;
}

/** What the operator hands out: shown once, never stored in the clear. */
export interface IssuedEabKey {
  readonly kid: string;
  /** base64url, as certbot's --eab-hmac-key, lego's --hmac and cert-manager's Secret take it. */
  readonly hmacKey: string;
  readonly record: EabKeyRecord;
}

const HMAC_ALGS: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

function sealer(deps: RaDeps): SecretSealer {
  if (!deps.secrets) throw new Error('external account binding needs the secrets box (RaDeps.secrets)');
  return deps.secrets;
}

export async function createEabKey(deps: RaDeps, req: NewEabKeyRequest, actor: string): Promise<IssuedEabKey> {
  if (req.label.trim() === '') throw new AcmeProblem('malformed', 'an external account binding key needs a label');
  if (req.policy !== undefined && !deps.policies.has(req.policy)) {
    const known = [...deps.policies.keys()].join(', ') || 'none are configured';
    throw new AcmeProblem('malformed', `there is no policy "${req.policy}" in the config (policies: ${known})`);
  }
  // Neither starts with "-" (randomId): certbot 2.1 reads `--eab-hmac-key -x…` as an option.
  const kid = randomId(16);
  const hmac = Buffer.from(randomId(32), 'base64url');
  const now = deps.clock.now();
  const record = {
    kid,
    label: req.label,
    ...(req.policy !== undefined ? { policy: req.policy } : {}),
    hmacSealed: sealer(deps).seal(hmac, kid),
    reusable: req.reusable ?? false,
    createdAt: now,
    ...(req.expiresInMs !== undefined ? { expiresAt: new Date(now.getTime() + req.expiresInMs) } : {}),
  };
  await deps.ledger.createEabKey(record, actor);
  return { kid, hmacKey: hmac.toString('base64url'), record: { ...record, bindings: 0 } };
}

/**
 * `certmint eab revoke` and the admin API's revocation: no new account can bind with the key
 * (accounts bound already keep working). 404 for an unknown key, 409 when it was revoked already.
 */
export async function revokeEabKey(deps: RaDeps, kid: string, actor: string): Promise<EabKeyRecord> {
  const key = await deps.ledger.getEabKey(kid);
  if (!key) throw new AcmeProblem('malformed', `no external account binding key "${kid}" in this ledger`, { status: 404 });
  if (!(await deps.ledger.revokeEabKey(kid, deps.clock.now(), actor))) {
    throw new AcmeProblem('malformed', `key ${kid} was already revoked`, { status: 409 });
  }
  return (await deps.ledger.getEabKey(kid)) ?? key;
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new AcmeProblem('malformed', `externalAccountBinding: the ${what} is not base64url-encoded JSON object`);
}

/**
 * RFC 8555 §7.3.4: the binding is a JWS MACed with the operator's key, whose protected header
 * names the key (`kid`) and the newAccount URL, and whose payload is the account's public key.
 * Returns the key record when everything holds; throws malformed/unauthorized otherwise.
 */
export async function verifyExternalAccountBinding(
  deps: RaDeps,
  binding: unknown,
  account: { readonly thumbprint: string; readonly url: string },
): Promise<EabKeyRecord> {
  if (
    typeof binding !== 'object' || binding === null ||
    typeof (binding as Record<string, unknown>).protected !== 'string' ||
    typeof (binding as Record<string, unknown>).payload !== 'string' ||
    typeof (binding as Record<string, unknown>).signature !== 'string'
  ) {
    throw new AcmeProblem('malformed', 'externalAccountBinding must be a flattened JWS: {"protected", "payload", "signature"}');
  }
  const jws = binding as { protected: string; payload: string; signature: string };
  const header = decodeJson(jws.protected, 'protected header');
  const alg = typeof header.alg === 'string' ? header.alg : '';
  const hash = HMAC_ALGS[alg];
  if (!hash) throw new AcmeProblem('malformed', `externalAccountBinding: alg must be HS256, HS384 or HS512, not "${alg}"`);
  // RFC 7515 §4.1.11: certmint implements no JWS extension (acme/jws.ts refuses this before the nonce is used).
  if (header.crit !== undefined) {
    throw new AcmeProblem('malformed', 'externalAccountBinding: "crit" names a JWS extension this server does not implement (RFC 7515 §4.1.11)');
  }
  if (header.nonce !== undefined) throw new AcmeProblem('malformed', 'externalAccountBinding: the protected header must not carry a nonce');
  if (header.url !== account.url) {
    throw new AcmeProblem('unauthorized', `externalAccountBinding: the protected header's url must be ${account.url}`);
  }
  if (typeof header.kid !== 'string' || header.kid === '') throw new AcmeProblem('malformed', 'externalAccountBinding: the protected header needs a kid');
  const kid = header.kid;
  const key = await deps.ledger.getEabKey(kid);
  if (!key) throw new AcmeProblem('unauthorized', `externalAccountBinding: there is no key "${kid.slice(0, 64)}"; ask your CA operator for one`);

  const mac = createHmac(hash, sealer(deps).open(key.hmacSealed, key.kid)).update(`${jws.protected}.${jws.payload}`).digest();
  const sent = Buffer.from(jws.signature, 'base64url');
  if (sent.length !== mac.length || !timingSafeEqual(sent, mac)) {
    throw new AcmeProblem('unauthorized', `externalAccountBinding: the MAC does not verify with key ${kid}; check the HMAC key (base64url)`);
  }
  const now = deps.clock.now();
  if (key.revokedAt) throw new AcmeProblem('unauthorized', `externalAccountBinding: key ${kid} was revoked`);
  if (key.expiresAt && key.expiresAt <= now) throw new AcmeProblem('unauthorized', `externalAccountBinding: key ${kid} expired at ${key.expiresAt.toISOString()}`);
  if (!key.reusable && key.boundAccountId) {
    throw new AcmeProblem('unauthorized', `externalAccountBinding: key ${kid} was already used by another account`);
  }
  let bound: string;
  try {
    // Canonical first, as the account's own thumbprint is (acme/jws.ts): the same key spelled
    // another way is the same key.
    bound = await calculateJwkThumbprint(canonicalJwk(decodeJson(jws.payload, 'payload')) as JWK, 'sha256');
  } catch (e) {
    if (e instanceof AcmeProblem) throw e;
    throw new AcmeProblem('malformed', `externalAccountBinding: the payload is not a public JWK: ${(e as Error).message}`);
  }
  if (bound !== account.thumbprint) {
    throw new AcmeProblem('unauthorized', 'externalAccountBinding: its payload is a different key than the one that signed newAccount');
  }
  return key;
}
