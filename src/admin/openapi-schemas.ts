import { REVOCATION_REASONS } from '../ra/revocation.js';

// The JSON Schemas (2020-12, as OpenAPI 3.1 takes them) of the admin API's answers: the shapes
// certificate-views.ts, access-views.ts, ca-routes.ts, notification-routes.ts and
// summary-routes.ts write. Objects are closed (additionalProperties: false) so that a member
// added to an answer without documenting it fails openapi.test.ts.

type Schema = Record<string, unknown>;

const string = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullable = (s: Schema): Schema => ({ ...s, type: [s.type as string, 'null'] });
const array = (items: Schema): Schema => ({ type: 'array', items });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
/** A closed object: every listed member is present unless `optional` names it. */
function object(properties: Record<string, Schema>, optional: readonly string[] = []): Schema {
  return { type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)), additionalProperties: false };
}

const serial = { type: 'string', pattern: '^[0-9a-f]{2,40}$', description: 'Lower-case hex, no colons.' } as const;
const reasonNames = Object.keys(REVOCATION_REASONS);

const certificateSummary = {
  serial,
  identifiers: array(string),
  notBefore: dateTime,
  notAfter: dateTime,
  status: { type: 'string', enum: ['valid', 'revoked'] },
  state: { type: 'string', enum: ['valid', 'expired', 'revoked'], description: 'As the operator reads it: unrevoked and past notAfter is "expired".' },
  revokedAt: { ...dateTime, description: 'Revoked certificates only.' },
  revocationReason: { type: 'string', description: `Revoked certificates only: ${reasonNames.join(', ')} (or "reason <code>").` },
  account: nullable(string),
  profile: string,
  replaces: nullable(serial),
  replacedBy: nullable(serial),
  renewalDueAt: dateTime,
};
const summaryOptional = ['revokedAt', 'revocationReason'];

const auditEntryOfSubject = object({ at: dateTime, actor: string, action: string, detail: { type: 'object' } });
const account = { id: string, status: { type: 'string', enum: ['valid', 'deactivated', 'revoked'] }, contacts: array(string), created: dateTime, certificates: integer };
const eabKey = {
  kid: string,
  label: string,
  policy: nullable(string),
  reusable: boolean,
  createdAt: dateTime,
  expiresAt: nullable(dateTime),
  revokedAt: nullable(dateTime),
  boundAccount: nullable(string),
  bindings: integer,
  state: { type: 'string', enum: ['revoked', 'expired', 'used', 'usable'] },
};
const names = object({ permitted: array(string), excluded: array(string) });

export const SCHEMAS: Record<string, Schema> = {
  Problem: {
    type: 'object',
    description: 'An RFC 7807 problem document (as RFC 8555 §6.7 uses it), served as application/problem+json.',
    properties: { type: { type: 'string', description: 'urn:ietf:params:acme:error:<type>' }, detail: string, status: integer, identifier: { type: 'object' }, subproblems: array({ type: 'object' }) },
    required: ['type', 'detail', 'status'],
  },
  CertificateSummary: object(certificateSummary, summaryOptional),
  CertificateList: object({ certificates: array(ref('CertificateSummary')), next: { ...nullable(string), description: 'The cursor of the next page (pass it as `cursor`), null on the last page.' } }),
  CertificateDetail: object(
    {
      ...certificateSummary,
      subject: nullable(string),
      issuer: string,
      issuerGeneration: integer,
      sha256Fingerprint: string,
      order: nullable(string),
      authorizedBy: {
        ...nullable({ type: 'array' }),
        items: object(
          {
            identifier: { ...string, description: 'As ordered ("*.apps.internal" for a wildcard).' },
            method: { ...string, description: 'The challenge type that validated it (http-01, dns-01, tls-alpn-01, …) or "policy" (a preAuthorized policy).' },
            eabKid: { ...string, description: 'method "policy": the EAB key the pre-authorization rested on.' },
          },
          ['eabKid'],
        ),
        description: 'How each identifier was authorized; null for certificates issued before this was recorded.',
      },
      audit: array(auditEntryOfSubject),
      pem: string,
      chainPem: string,
    },
    summaryOptional,
  ),
  Account: object(account),
  AccountList: object({ accounts: array(ref('Account')), next: nullable(string) }),
  AccountDetail: object({
    ...account,
    termsOfServiceAgreed: boolean,
    keyType: string,
    keyThumbprint: string,
    audit: array({ type: 'object', properties: { at: dateTime, actor: string, action: string }, required: ['at', 'actor', 'action'], description: 'The entry\'s detail members follow its action.' }),
  }),
  EabKey: object(eabKey),
  EabKeyList: object({ eabKeys: array(ref('EabKey')) }),
  EabKeyCreated: object({ ...eabKey, hmacKey: { type: 'string', description: 'base64url; shown in this answer only, never again.' } }),
  AuditEntry: object({ id: integer, at: dateTime, actor: string, action: string, subject: string, detail: { type: 'object' } }),
  AuditList: object({ entries: array(ref('AuditEntry')), next: nullable(string) }),
  Ca: object({
    roots: array(object(
      { root: integer, newest: boolean, crossSigned: boolean, external: { const: true }, keyOffline: { const: true }, subject: string, notAfter: dateTime, liveCertificates: integer, notBefore: dateTime },
      ['external', 'keyOffline'],
    )),
    intermediates: array(object({ generation: integer, root: integer, active: boolean, subject: string, notAfter: dateTime, liveCertificates: integer, notBefore: dateTime, nameConstraints: names })),
    nameConstraints: names,
    subordinates: array(object({
      serial, label: string, kind: string, rootGeneration: integer, subject: string, notBefore: dateTime, notAfter: dateTime,
      status: { type: 'string', enum: ['valid', 'revoked'] }, revokedAt: nullable(dateTime), revocationReason: nullable(integer),
      permitted: array(string), excluded: array(string), createdAt: dateTime,
    })),
    crls: array(object({
      issuer: string, crlNumber: { ...nullable(string), description: 'Decimal; null until the first CRL is published.' }, thisUpdate: nullable(dateTime), nextUpdate: nullable(dateTime),
      ageSeconds: nullable(integer), sizeBytes: nullable(integer), stale: boolean,
    })),
  }),
  Delivery: object({
    delivery: string, type: string, subject: string, webhook: string, state: { type: 'string', enum: ['pending', 'delivered', 'failed'] }, attempts: integer,
    createdAt: dateTime, nextAttemptAt: nullable(dateTime), deliveredAt: nullable(dateTime), lastError: nullable(string), note: nullable(string),
  }),
  DeliveryList: object({ deliveries: array(ref('Delivery')) }),
  Retried: object({ retried: integer }),
  Summary: object({
    generatedAt: dateTime,
    counts: object({ valid: integer, expiringWithin7d: integer, overdue: integer, revoked: integer }),
    expiriesPerDay: array(object({ day: { type: 'string', format: 'date' }, count: integer })),
    issuancesPerDay: array(object({ day: { type: 'string', format: 'date' }, count: integer })),
  }),
};
