import type { Identifier } from '../core/identifier.js';
import type { PublicKeyInfo } from '../core/public-key.js';
import { subjectKeyProblem } from '../policy/keys.js';
import { DEFAULT_PROFILE, profileKeyProblem } from '../policy/profiles.js';
import { leafValidity } from '../policy/validity.js';
import { certifiedIdentifiers, derToPem, signLeaf } from './certificates.js';
import { validityFor, type RaDeps } from './deps.js';
import { keyHashOfSpki } from './keys.js';

/** What certmint's own HTTPS endpoint asks for (server.tls). */
export interface ServerCertificateRequest {
  /** DER SubjectPublicKeyInfo of the server's key, and what kind of key it is. */
  readonly spki: Uint8Array;
  readonly key: PublicKeyInfo;
  /** server.tls.hostnames: names and addresses the operator configured. */
  readonly identifiers: readonly Identifier[];
  /** server.tls.lifetime: asked for, and held to the profile's and the server's maximum. */
  readonly lifetimeMs: number;
}

export interface ServerCertificate {
  readonly serial: string;
  /** The leaf, then the chain to serve (the cross-signed one after ca rotate-root). */
  readonly certPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The key the server's certificate should have: ECDSA P-256 unless the "default" profile refuses it, then RSA. */
export function serverKeyType(deps: RaDeps): 'ecdsa' | 'rsa' | 'ed25519' {
  const accepted = deps.profiles[DEFAULT_PROFILE]!.keyTypes;
  return (['ecdsa', 'rsa', 'ed25519'] as const).find((t) => accepted.includes(t)) ?? 'ecdsa';
}

/**
 * The server's own TLS certificate, issued under the same rules as a finalize: the "default"
 * profile (its key types, key usage, lifetime cap), policy.maxLifetime, the active intermediate's
 * notAfter (ca/), and recorded in the ledger before anyone sees it
 * (docs/architecture.md#a-certificate-is-committed-before-anyone-sees-it), so `certs list` shows
 * it and `certs revoke` revokes it. What it skips is the ACME part: there is no account, order or
 * challenge, and the names are the operator's own (server.tls.hostnames, `localhost` included),
 * so the identifier policy for ACME orders does not apply to them.
 */
export async function issueServerCertificate(deps: RaDeps, request: ServerCertificateRequest): Promise<ServerCertificate> {
  const profileName = DEFAULT_PROFILE;
  const profile = deps.profiles[profileName]!;
  if (profile.usage === 'client') {
    throw new Error(`profile "${profileName}" issues client certificates only; certmint's own HTTPS certificate needs serverAuth (set profiles.${profileName}.usage to server or both)`);
  }
  const keyProblem = subjectKeyProblem(request.key) ?? profileKeyProblem(profileName, profile, request.key);
  if (keyProblem) throw new Error(`certmint's own HTTPS key is refused: ${keyProblem}`);
  const now = deps.clock.now();
  // No account: only the server's and the profile's caps apply. server.tls.lifetime is the
  // default asked for; beyond the cap it is cut to it rather than refused, so a lowered
  // policy.maxLifetime never stops the server from starting.
  const policy = validityFor(deps, {}, profile);
  const { notBefore, notAfter } = leafValidity(now, { notBefore: undefined, notAfter: undefined }, {
    defaultLifetimeMs: Math.min(request.lifetimeMs, policy.maxLifetimeMs),
    maxLifetimeMs: policy.maxLifetimeMs,
  });
  const identifiers = certifiedIdentifiers(request.identifiers);
  const commonName = profile.commonName ? identifiers.find((i) => i.type === 'dns')?.value : undefined;
  const leaf = await signLeaf(deps, profile, { spki: request.spki, identifiers, commonName, notBefore, notAfter });
  await deps.ledger.insertCertificate({
    serial: leaf.serialHex,
    accountId: undefined,
    orderId: undefined,
    der: leaf.der,
    chainPem: leaf.chainPem,
    issuerGeneration: leaf.issuerGeneration,
    ...(leaf.crlPartition !== undefined ? { crlPartition: leaf.crlPartition } : {}),
    identifiers,
    commonName,
    keyHash: keyHashOfSpki(request.spki),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    createdAt: now,
    // As finalize records an order that named no profile: undefined is "default".
  });
  // After ca rotate-root, HTTPS clients that fetched /roots.pem before it trust only the old root:
  // the chain with the cross certificate verifies for them, and for those that trust the new
  // root (they stop at the intermediate), so certmint's own endpoint serves that one.
  const alternate = deps.ca.generations.find((g) => g.generation === leaf.issuerGeneration)?.alternateChainPems[0];
  return { serial: leaf.serialHex, certPem: derToPem(leaf.der) + (alternate ?? leaf.chainPem), notBefore: leaf.notBefore, notAfter: leaf.notAfter };
}
