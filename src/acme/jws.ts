import type { FastifyRequest, onRouteHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { canonicalJwk, KeyEncodingError } from '../core/canonical-key.js';
import { AcmeProblem } from '../core/problem.js';
import type { AccountRecord } from '../ledger/records.js';
import { JWS_ALGORITHMS, importJwsKey, isJwsAlgorithm, verifyJwsSignature, type JwsAlgorithm, type JwsKey } from './jws-keys.js';
import type { AcmeLedger } from './context.js';
import type { AcmeUrls } from './urls.js';

/** RFC 8555 §6.2 algorithms certmint accepts for account keys. */
export { JWS_ALGORITHMS };

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
  /** keyChange routes only: the inner JWS, signed by the new key (RFC 8555 §7.3.5). */
  readonly inner?: VerifiedInnerJws;
}

/** The inner JWS of a keyChange request, verified with the key in its own "jwk" header. */
export interface VerifiedInnerJws {
  readonly payload: Readonly<Record<string, unknown>>;
  /** The new account key (public members only). */
  readonly jwk: Readonly<Record<string, unknown>>;
  readonly thumbprint: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    acme: VerifiedJws | null;
  }
  interface FastifyContextConfig {
    jws?: KeyMode;
    /** The payload is itself a JWS signed by a new account key (keyChange). */
    innerJws?: boolean;
    /** newNonce (RFC 8555 §7.2): answered with a nonce although it is no POST. */
    newNonce?: boolean;
  }
}

/** Only the public members of a JWK (RFC 7638 required members), so nothing else is stored. */
function publicJwk(jwk: Record<string, unknown>): Record<string, unknown> {
  const members: Record<string, readonly string[]> = { EC: ['crv', 'x', 'y'], RSA: ['e', 'n'], OKP: ['crv', 'x'] };
  const kty = typeof jwk.kty === 'string' ? jwk.kty : '';
  const wanted = members[kty];
  if (!wanted) throw new AcmeProblem('badPublicKey', `JWK key type "${kty}" is not supported (EC, RSA or OKP)`);
  if ('d' in jwk) throw new AcmeProblem('malformed', 'the "jwk" header holds a private key; send only the public key');
  for (const m of wanted) {
    if (typeof jwk[m] !== 'string') throw new AcmeProblem('malformed', `JWK is missing its "${m}" member`);
  }
  // One key, one spelling (core/canonical-key.ts): the thumbprint that finds an account (RFC 7638)
  // and the key stored with it are computed from this form only, so a leading zero, padding or a
  // short coordinate cannot give the same key a second account.
  try {
    return { ...canonicalJwk(jwk) };
  } catch (e) {
    if (e instanceof KeyEncodingError) throw new AcmeProblem('badPublicKey', `the JWK is refused: ${e.message}`);
    throw e;
  }
}

/**
 * RFC 7515 §4.1.11: a recipient must refuse a JWS whose "crit" names an extension it does not
 * understand, and "crit" must be a non-empty array of names of non-standard header parameters
 * that are present. certmint implements no JWS extension, so any "crit" makes the JWS invalid.
 */
function refuseCrit(header: Record<string, unknown>, what: string): void {
  if (!('crit' in header)) return;
  const crit = header.crit;
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c): c is string => typeof c === 'string')) {
    throw new AcmeProblem('malformed', `${what} "crit" must be a non-empty array of header parameter names (RFC 7515 §4.1.11)`);
  }
  if (crit.includes('b64')) {
    // RFC 7797 §6 requires "b64" in "crit"; RFC 8555 §6.2 forbids the option itself.
    throw new AcmeProblem('malformed', `the ${what} unencoded payload option ("b64" in "crit") is not allowed (RFC 8555 §6.2)`);
  }
  const named = crit.slice(0, 5).map((c) => JSON.stringify(c.slice(0, 64))).join(', ');
  throw new AcmeProblem(
    'malformed',
    `${what} "crit" lists ${named}: this server implements no JWS extension, so it cannot accept a JWS that requires one (RFC 7515 §4.1.11)`,
  );
}

/** A payload's JSON, parsed once: the value, or `invalid` when it is not JSON (reported as malformed only after the nonce is spent). */
type ParsedPayload = { readonly value: unknown } | { readonly invalid: true };

function parsePayload(payloadText: string): ParsedPayload | undefined {
  if (payloadText === '') return undefined;
  try {
    return { value: JSON.parse(payloadText) as unknown };
  } catch {
    return { invalid: true };
  }
}

/**
 * The nested JWS a request carries (keyChange's inner JWS, newAccount's externalAccountBinding)
 * are verified after the outer nonce is used; their "crit" is refused before it, so a client can
 * retry with the same nonce. Anything else wrong with them is for their own parser to say.
 */
function refuseNestedCrit(parsed: ParsedPayload | undefined, innerJws: boolean): void {
  if (parsed === undefined || !('value' in parsed)) return;
  const payload = parsed.value;
  if (typeof payload !== 'object' || payload === null) return;
  const nested: { jws: unknown; what: string }[] = innerJws
    ? [{ jws: payload, what: 'inner JWS' }]
    : [{ jws: (payload as Record<string, unknown>).externalAccountBinding, what: 'externalAccountBinding' }];
  for (const { jws, what } of nested) {
    const encoded = typeof jws === 'object' && jws !== null ? (jws as Record<string, unknown>).protected : undefined;
    if (typeof encoded !== 'string') continue;
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    } catch {
      continue;
    }
    if (typeof header === 'object' && header !== null && !Array.isArray(header)) refuseCrit(header as Record<string, unknown>, what);
  }
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
  return jsonObject(v, what);
}

function jsonObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new AcmeProblem('malformed', `JWS ${what} must be a JSON object`);
  }
  return v as Record<string, unknown>;
}

function importKey(jwk: Record<string, unknown>, alg: JwsAlgorithm): JwsKey {
  try {
    return importJwsKey(jwk, alg);
  } catch (e) {
    throw new AcmeProblem('badPublicKey', `the JWK cannot be used with ${alg}: ${(e as Error).message}`);
  }
}

interface FlattenedJws {
  readonly protected: string;
  readonly payload: string;
  readonly signature: string;
}

/** A flattened JSON JWS (RFC 8555 §6.2): no unprotected header, an accepted alg, no b64 option. */
function parseFlattened(
  body: unknown,
  what: 'JWS' | 'inner JWS',
): { jws: FlattenedJws; header: Record<string, unknown>; payloadText: string; alg: JwsAlgorithm } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AcmeProblem('malformed', `the ${what === 'JWS' ? 'request body' : 'keyChange payload'} must be a JWS in flattened JSON serialization`);
  }
  const jws = body as Record<string, unknown>;
  if ('header' in jws) throw new AcmeProblem('malformed', `${what} unprotected headers are not allowed (RFC 8555 §6.2)`);
  if (typeof jws.signature !== 'string') throw new AcmeProblem('malformed', `${what} "signature" is missing`);
  const header = parseJsonObject(decodeSegment(jws.protected, 'protected'), 'protected header');
  const payloadText = decodeSegment(jws.payload, 'payload');
  const alg = header.alg;
  if (typeof alg !== 'string' || !isJwsAlgorithm(alg)) {
    throw new AcmeProblem('badSignatureAlgorithm', `${what} algorithm ${JSON.stringify(alg)} is not supported`, {
      extra: { algorithms: [...JWS_ALGORITHMS] },
    });
  }
  if ('b64' in header) throw new AcmeProblem('malformed', `the ${what} unencoded payload option is not allowed`);
  refuseCrit(header, what);
  return {
    jws: { protected: jws.protected as string, payload: jws.payload as string, signature: jws.signature },
    header,
    payloadText,
    alg,
  };
}

function headerJwk(header: Record<string, unknown>, what: string): Record<string, unknown> {
  if (typeof header.jwk !== 'object' || header.jwk === null) throw new AcmeProblem('malformed', `${what} "jwk" must be an object`);
  return publicJwk(header.jwk as Record<string, unknown>);
}

function verifySignature(jws: FlattenedJws, key: JwsKey, what: string): void {
  if (!/^[A-Za-z0-9_-]*$/.test(jws.signature)) throw new AcmeProblem('malformed', `${what} "signature" must be a base64url string`);
  const signingInput = Buffer.from(`${jws.protected}.${jws.payload}`, 'ascii');
  if (!verifyJwsSignature(key, signingInput, Buffer.from(jws.signature, 'base64url'))) {
    throw new AcmeProblem('malformed', `${what} signature verification failed`);
  }
}

/**
 * The one place that verifies JWS (docs/architecture.md#one-place-for-problems-one-place-for-jws).
 * Checks, in order: flattened JSON form, protected header, alg, url, kid xor jwk, the signer's key
 * and account, the signature, then the nonce (consumed only for a request that is otherwise
 * well-formed and authentic).
 */
export class JwsVerifier {
  /**
   * account id, key thumbprint and alg → imported key. The thumbprint is the account's current one,
   * read from the ledger on every request, so after a keyChange (here or in another instance) the
   * old key's entry is never found again and simply ages out.
   */
  private readonly keyCache = new Map<string, JwsKey>();

  constructor(
    private readonly ledger: Pick<AcmeLedger, 'getAccount' | 'nonces'>,
    private readonly urls: AcmeUrls,
    private readonly keyCacheSize = 10_000,
  ) {}

  /** `innerJws`: the route's payload is itself a JWS (keyChange), whose "crit" is refused before the nonce is spent. */
  async verify(request: FastifyRequest, mode: KeyMode, innerJws = false): Promise<VerifiedJws> {
    const { jws, header, payloadText, alg } = parseFlattened(request.body, 'JWS');
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

    let key: JwsKey;
    let account: AccountRecord | undefined;
    let jwk: Record<string, unknown> | undefined;
    if (hasJwk) {
      jwk = headerJwk(header, 'JWS');
      key = importKey(jwk, alg);
    } else {
      ({ account, key } = await this.accountKey(header.kid, alg));
    }

    verifySignature(jws, key, 'JWS');
    // Parsed once for both: the nested "crit" check before the nonce, the payload's own problem after it.
    const parsed = parsePayload(payloadText);
    refuseNestedCrit(parsed, innerJws);
    if (!(await this.ledger.nonces.consume(header.nonce))) {
      throw new AcmeProblem('badNonce', 'JWS has an invalid or already used nonce; retry with the one in Replay-Nonce');
    }
    if (parsed !== undefined && !('value' in parsed)) throw new AcmeProblem('malformed', 'JWS payload is not valid JSON');
    const payload = parsed === undefined ? undefined : jsonObject(parsed.value, 'payload');
    const thumbprint = jwk ? await calculateJwkThumbprint(jwk as JWK, 'sha256') : account?.keyThumbprint;
    return { payload, account, jwk, thumbprint };
  }

  /**
   * RFC 8555 §7.3.5 keyChange: the outer payload is a JWS signed by the new key, with "jwk" and
   * no "kid", no "nonce" and the outer "url". The new key passes the checks of a newAccount key.
   * What its payload says (account, oldKey) is for the use case to judge.
   */
  async verifyInner(outerPayload: Readonly<Record<string, unknown>> | undefined, outerUrl: string): Promise<VerifiedInnerJws> {
    if (outerPayload === undefined) {
      throw new AcmeProblem('malformed', 'keyChange needs a payload: a JWS signed by the new key (RFC 8555 §7.3.5)');
    }
    const { jws, header, payloadText, alg } = parseFlattened(outerPayload, 'inner JWS');
    if (!('jwk' in header)) throw new AcmeProblem('malformed', 'the inner JWS must carry the new key in "jwk"');
    if ('kid' in header) throw new AcmeProblem('malformed', 'the inner JWS must not carry "kid"');
    if ('nonce' in header) throw new AcmeProblem('malformed', 'the inner JWS must not carry a "nonce" (RFC 8555 §7.3.5)');
    const jwk = headerJwk(header, 'inner JWS');
    verifySignature(jws, importKey(jwk, alg), 'inner JWS');
    if (header.url !== outerUrl) {
      throw new AcmeProblem('malformed', `inner JWS "url" ${JSON.stringify(header.url)} differs from the outer "url" ${outerUrl}`);
    }
    const payload = parseJsonObject(payloadText, 'inner payload');
    return { payload, jwk, thumbprint: await calculateJwkThumbprint(jwk as JWK, 'sha256') };
  }

  /** The absolute URL of a request as its JWS "url" must name it. */
  requestUrl(request: FastifyRequest): string {
    return this.urls.requestUrl(request.url);
  }

  private async accountKey(kid: unknown, alg: JwsAlgorithm): Promise<{ account: AccountRecord; key: JwsKey }> {
    if (typeof kid !== 'string' || !kid.startsWith(this.urls.accountPrefix)) {
      throw new AcmeProblem('malformed', `JWS "kid" must be an account URL under ${this.urls.accountPrefix}`);
    }
    const id = kid.slice(this.urls.accountPrefix.length);
    const account = await this.ledger.getAccount(id);
    if (!account) throw new AcmeProblem('accountDoesNotExist', `account ${kid} does not exist`);
    if (account.status !== 'valid') throw new AcmeProblem('unauthorized', `account ${kid} is ${account.status}`);
    const cacheKey = `${id}:${account.keyThumbprint}:${alg}`;
    let key = this.keyCache.get(cacheKey);
    if (!key) {
      try {
        key = importJwsKey(account.jwk as Record<string, unknown>, alg);
      } catch {
        // The stored key is fine; the request names an alg of another key type (an old key after keyChange, say).
        throw new AcmeProblem('badSignatureAlgorithm', `JWS algorithm ${alg} does not fit the account key (${String(account.jwk.kty)})`, {
          extra: { algorithms: [...JWS_ALGORITHMS] },
        });
      }
      if (this.keyCache.size >= this.keyCacheSize) this.keyCache.delete(this.keyCache.keys().next().value as string);
      this.keyCache.set(cacheKey, key);
    }
    return { account, key };
  }
}

/**
 * The JWS check as a preHandler of each route with `config: { jws }` (an onRoute hook of the ACME
 * plugin), its key mode read once when the route is added: routes without it (the directory,
 * newNonce, the 405 answers) run no preHandler at all, and no request reads `routeOptions` for it
 * (fastify builds a new object on every read; issue 27).
 */
export function verifyJwsOnRoutes(verifier: JwsVerifier): onRouteHookHandler {
  return (route) => {
    const mode = route.config?.jws;
    if (!mode) return;
    const check = jwsPreHandler(verifier, mode, route.config?.innerJws === true);
    route.preHandler = route.preHandler === undefined ? check : [check, ...[route.preHandler].flat()];
  };
}

/**
 * Async, so the handler runs in a turn of its own after it (fastify resolves the hook), not inside
 * this module's frames: the profile (bench/profile-report.mjs) counts a stack with a frame of
 * acme/jws as JWS work, and the handler's is not.
 */
function jwsPreHandler(verifier: JwsVerifier, mode: KeyMode, innerJws: boolean): preHandlerAsyncHookHandler {
  return async (request) => {
    const v = await verifier.verify(request, mode, innerJws);
    // Every later line of this request (the handler's, the error handler's) names the account.
    if (v.account) request.log = request.log.child({ account: v.account.id });
    request.acme = innerJws ? { ...v, inner: await verifier.verifyInner(v.payload, verifier.requestUrl(request)) } : v;
  };
}
