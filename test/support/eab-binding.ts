import type { FastifyInstance } from 'fastify';
import { FlattenedSign, type FlattenedJWS } from 'jose';
import { InjectAcmeClient, type AccountKey } from './jws-client.js';

/** An EAB key as `certmint eab create` (or the admin API) hands it to the account holder. */
export interface EabKeyPair {
  readonly kid: string;
  readonly hmacKey: string;
}

/**
 * The external account binding a client builds (RFC 8555 §7.3.4): the account JWK, MACed with the
 * operator's key under `url` (the newAccount URL). `o` bends it the ways the refusal tests need.
 */
export function eabBinding(
  key: AccountKey,
  eab: EabKeyPair,
  url: string,
  o: { readonly alg?: string; readonly extraHeader?: Record<string, unknown>; readonly payloadJwk?: object } = {},
): Promise<FlattenedJWS> {
  return new FlattenedSign(new TextEncoder().encode(JSON.stringify(o.payloadJwk ?? key.jwk)))
    .setProtectedHeader({ alg: o.alg ?? 'HS256', kid: eab.kid, url, ...o.extraHeader })
    .sign(Buffer.from(eab.hmacKey, 'base64url'));
}

/**
 * newAccount with terms agreed and a binding made with `eab`, as a client sends it; `payload` adds
 * to the newAccount payload (contact, say). Returns the client and the server's response.
 */
export async function registerWithEab(
  target: { readonly app: FastifyInstance; readonly baseUrl: string },
  key: AccountKey,
  eab: EabKeyPair,
  payload: Record<string, unknown> = {},
) {
  const externalAccountBinding = await eabBinding(key, eab, `${target.baseUrl}/acme/new-account`);
  const client = new InjectAcmeClient(target.app, target.baseUrl, key);
  return { client, res: await client.register({ termsOfServiceAgreed: true, externalAccountBinding, ...payload }) };
}
