import type { AccountRecord, ChallengeRecord } from '../ledger/records.js';
import type { AuthorizationView } from '../ra/authorizations.js';
import type { OrderView } from '../ra/orders.js';
import type { AcmeUrls } from './urls.js';

// Resource bodies of RFC 8555 §7.1. Absent fields are omitted, never null or {} (CLIENT-NOTES).

/** RFC 3339 in UTC, whole seconds. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function accountBody(a: AccountRecord, urls: AcmeUrls): Record<string, unknown> {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: a.termsOfServiceAgreed,
    orders: `${urls.account(a.id)}/orders`,
  };
}

export function orderBody(v: OrderView, urls: AcmeUrls): Record<string, unknown> {
  const o = v.order;
  return {
    status: v.state.status,
    expires: rfc3339(o.expires),
    identifiers: o.identifiers,
    ...(o.notBefore ? { notBefore: rfc3339(o.notBefore) } : {}),
    ...(o.notAfter ? { notAfter: rfc3339(o.notAfter) } : {}),
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
    ...(o.replaces !== undefined ? { replaces: o.replaces } : {}),
    ...(v.state.error ? { error: v.state.error } : {}),
    authorizations: o.authorizationIds.map((id) => urls.authorization(id)),
    finalize: urls.finalize(o.id),
    ...(v.state.status === 'valid' && o.certificateSerial ? { certificate: urls.certificate(o.certificateSerial) } : {}),
  };
}

/** What a dns-persist-01 challenge object adds: the names the record may use and the account it must name. */
export interface PersistChallengeFields {
  readonly issuerDomainNames: readonly string[];
  readonly accountUri: string;
}

export function challengeBody(c: ChallengeRecord, urls: AcmeUrls, persist?: PersistChallengeFields): Record<string, unknown> {
  return {
    type: c.type,
    url: urls.challenge(c.id),
    status: c.status,
    // draft-ietf-acme-dns-persist-01 §3.1: no token; `accounturi` as Boulder sends it, so a client
    // can print the record without knowing its account URL.
    ...(c.type === 'dns-persist-01'
      ? { 'issuer-domain-names': persist?.issuerDomainNames ?? [], ...(persist ? { accounturi: persist.accountUri } : {}) }
      : { token: c.token }),
    ...(c.validatedAt && c.status === 'valid' ? { validated: rfc3339(c.validatedAt) } : {}),
    ...(c.error ? { error: c.error } : {}),
  };
}

export function authorizationBody(v: AuthorizationView, urls: AcmeUrls, persist?: PersistChallengeFields): Record<string, unknown> {
  const a = v.authz;
  // RFC 8555 §7.1.4: a valid authorization lists the challenge that validated it; we list all,
  // as Boulder did for years and every client accepts.
  return {
    identifier: a.identifier,
    status: v.status,
    expires: rfc3339(a.expires),
    challenges: a.challenges.map((c) => challengeBody(c, urls, persist)),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}
