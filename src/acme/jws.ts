import type { FastifyReply, FastifyRequest } from 'fastify';
import { calculateJwkThumbprint, flattenedVerify, importJWK, errors as joseErrors, type JWK } from 'jose';
import { AcmeProblem } from '../core/problem.js';
import type { CertificateLedger } from '../ledger/ledger.js';
import type { AccountRecord } from '../ledger/records.js';
import type { AcmeUrls } from './urls.js';

/** RFC 8555 §6.2 algorithms certmint accepts for account keys. */
export const JWS_ALGORITHMS = ['ES256', 'ES384', 'RS256', 'EdDSA'] as const;
const ALGS = new Set<string>(JWS_ALGORITHMS);

/**
 * Which key identification a route takes (RFC 8555 §6.2): jwk for newAccount, kid for the rest,
 * either for revokeCert (the account, or the certificate's own key).
 */
export type KeyMode = 'kid' | 'jwk' | 'either';

/** What a route receives after the JWS preHandler: a verified payload and its signer. */
export interface VerifiedJws {
  /** Parsed JSON payload; undefined for POST-as-GET (empty payload). */
  readonly payload: Readonly<Record<string, unknown>> | undefined;
  readonly account: AccountRecord | undefined;
  readonly jwk: Readonly<Record<string, unknown>> | undefined;
  readonly thumbprint: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    acme: VerifiedJws | null;
  }
  interface FastifyContextConfig {
    jws?: KeyMode;
  }
}

/** Only the public members of a JWK (RFC 7638 required members), so nothing else is stored. */
function publicJwk(jwk: Record<string, unknown>): Record<string, unknown> {
  const members: Record<string, readonly string[]> = { EC: ['crv', 'x', 'y'], RSA: ['e', 'n'], OKP: ['crv', 'x'] };
  const kty = typeof jwk.kty === 'string' ? jwk.kty : '';
  const wanted = members[kty];
  if (!wanted) throw new AcmeProblem('badPublicKey', `JWK key type "${kty}" is not supported (EC, RSA or OKP)`);
  if ('d' in jwk) throw new AcmeProblem('malformed', 'the "jwk" header holds a private key; send only the public key');
  const out: Record<string, unknown> = { kty };
  for (const m of wanted) {
    if (typeof jwk[m] !== 'string') throw new AcmeProblem('malformed', `JWK is missing its "${m}" member`);
    out[m] = jwk[m];
  }
  return out;
}

function decodeSegment(value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]*$/.test(value)) {
    throw new AcmeProblem('malformed', `JWS "${what}" must be a base64url string`);
  }
  return Buffer.from(value, 'base64url').toString('utf8');
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AcmeProblem('malformed', `JWS ${what} is not valid JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new AcmeProblem('malformed', `JWS ${what} must be a JSON object`);
  }
  return v as Record<string, unknown>;
}

async function importKey(jwk: Record<string, unknown>, alg: string): Promise<CryptoKey> {
  try {
    return (await importJWK(jwk as JWK, alg)) as CryptoKey;
  } catch (e) {
    throw new AcmeProblem('badPublicKey', `the JWK cannot be used with ${alg}: ${(e as Error).message}`);
  }
}

/**
 * The one place that verifies JWS (shared/DESIGN.md). Checks, in order: flattened JSON form,
 * protected header, alg, url, kid xor jwk, the signer's key and account, the signature, then the
 * nonce (consumed only for a request that is otherwise well-formed and authentic).
 */
export class JwsVerifier {
  /** account id → imported key; account keys do not change until keyChange exists. */
  private readonly keyCache = new Map<string, CryptoKey>();

  constructor(
    private readonly ledger: CertificateLedger,
    private readonly urls: AcmeUrls,
    private readonly keyCacheSize = 10_000,
  ) {}

  async verify(request: FastifyRequest, mode: KeyMode): Promise<VerifiedJws> {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new AcmeProblem('malformed', 'the request body must be a JWS in flattened JSON serialization');
    }
    const jws = body as Record<string, unknown>;
    if ('header' in jws) throw new AcmeProblem('malformed', 'JWS unprotected headers are not allowed (RFC 8555 §6.2)');
    if (typeof jws.signature !== 'string') throw new AcmeProblem('malformed', 'JWS "signature" is missing');
    const header = parseJsonObject(decodeSegment(jws.protected, 'protected'), 'protected header');
    const payloadText = decodeSegment(jws.payload, 'payload');

    const alg = header.alg;
    if (typeof alg !== 'string' || !ALGS.has(alg)) {
      throw new AcmeProblem('badSignatureAlgorithm', `JWS algorithm ${JSON.stringify(alg)} is not supported`, {
        extra: { algorithms: [...JWS_ALGORITHMS] },
      });
    }
    if ('b64' in header) throw new AcmeProblem('malformed', 'the JWS unencoded payload option is not allowed');
    const expectedUrl = this.urls.requestUrl(request.url);
    if (header.url !== expectedUrl) {
      throw new AcmeProblem(
        'unauthorized',
        `JWS "url" ${JSON.stringify(header.url)} does not match the request URL ${expectedUrl}`,
      );
    }
    if (typeof header.nonce !== 'string' || header.nonce.length === 0) {
      throw new AcmeProblem('badNonce', 'JWS has no "nonce"; get one from newNonce');
    }
    const hasKid = 'kid' in header;
    const hasJwk = 'jwk' in header;
    if (hasKid === hasJwk) throw new AcmeProblem('malformed', 'JWS must carry exactly one of "kid" and "jwk"');
    if (mode === 'jwk' && !hasJwk) throw new AcmeProblem('malformed', 'this request must be signed with "jwk", not "kid"');
    if (mode === 'kid' && !hasKid) {
      throw new AcmeProblem('malformed', 'this request must be signed with "kid" (the account URL), not "jwk"');
    }

    let key: CryptoKey;
    let account: AccountRecord | undefined;
    let jwk: Record<string, unknown> | undefined;
    if (hasJwk) {
      if (typeof header.jwk !== 'object' || header.jwk === null) throw new AcmeProblem('malformed', 'JWS "jwk" must be an object');
      jwk = publicJwk(header.jwk as Record<string, unknown>);
      key = await importKey(jwk, alg);
    } else {
      ({ account, key } = await this.accountKey(header.kid, alg));
    }

    try {
      await flattenedVerify({ protected: jws.protected as string, payload: jws.payload as string, signature: jws.signature }, key, {
        algorithms: [alg],
      });
    } catch (e) {
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
        throw new AcmeProblem('malformed', 'JWS signature verification failed');
      }
      if (e instanceof TypeError) throw new AcmeProblem('badPublicKey', `the account key is not acceptable: ${e.message}`);
      throw new AcmeProblem('malformed', `JWS could not be verified: ${(e as Error).message}`);
    }
    if (!(await this.ledger.nonces.consume(header.nonce))) {
      throw new AcmeProblem('badNonce', 'JWS has an invalid or already used nonce; retry with the one in Replay-Nonce');
    }
    const payload = payloadText === '' ? undefined : parseJsonObject(payloadText, 'payload');
    const thumbprint = jwk ? await calculateJwkThumbprint(jwk as JWK, 'sha256') : account?.keyThumbprint;
    return { payload, account, jwk, thumbprint };
  }

  private async accountKey(kid: unknown, alg: string): Promise<{ account: AccountRecord; key: CryptoKey }> {
    if (typeof kid !== 'string' || !kid.startsWith(this.urls.accountPrefix)) {
      throw new AcmeProblem('malformed', `JWS "kid" must be an account URL under ${this.urls.accountPrefix}`);
    }
    const id = kid.slice(this.urls.accountPrefix.length);
    const account = await this.ledger.getAccount(id);
    if (!account) throw new AcmeProblem('accountDoesNotExist', `account ${kid} does not exist`);
    if (account.status !== 'valid') throw new AcmeProblem('unauthorized', `account ${kid} is ${account.status}`);
    const cacheKey = `${id}:${alg}`;
    let key = this.keyCache.get(cacheKey);
    if (!key) {
      key = await importKey(account.jwk as Record<string, unknown>, alg);
      if (this.keyCache.size >= this.keyCacheSize) this.keyCache.delete(this.keyCache.keys().next().value as string);
      this.keyCache.set(cacheKey, key);
    }
    return { account, key };
  }
}

/** fastify preHandler for routes with `config: { jws }`. */
export function jwsPreHandler(verifier: JwsVerifier) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const mode = request.routeOptions.config.jws;
    if (mode) request.acme = await verifier.verify(request, mode);
  };
}
