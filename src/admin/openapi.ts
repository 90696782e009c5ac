import { REVOCATION_REASONS } from '../ra/revocation.js';
import { CERTIFICATE_QUERY_KEYS, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './certificate-views.js';
import { SCHEMAS } from './openapi-schemas.js';
import { SESSION_COOKIE } from './sessions.js';

// The admin API's OpenAPI 3.1 document, written by hand next to the routes it describes and
// served at GET /api/v1/openapi.json. openapi.test.ts holds it to the routes the plugin registers
// (an undocumented route fails) and to real answers (an undocumented member fails).

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const problem = (description: string): Json => ({ $ref: '#/components/responses/Problem', description });

/** What every authenticated route may answer besides its success. */
const REFUSALS = {
  '400': problem('Malformed: an unknown or repeated query parameter, a bad value or body.'),
  '401': problem('No, a wrong, expired or revoked admin token or client certificate, or an ended console session (WWW-Authenticate: Bearer).'),
};
const FORBIDDEN = { '403': problem('A viewer token, or a console request that changes something without its CSRF token.') };
const NOT_FOUND = (what: string) => ({ '404': problem(`No such ${what} in this ledger.`) });

const query = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({ name, in: 'query', required: false, description, schema });
const path = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({ name, in: 'path', required: true, description, schema });
const flag = (name: string, description: string) => query(name, description, { type: 'string', enum: ['true', 'false', ''] });
const limit = query('limit', `Rows per page (default ${DEFAULT_PAGE_SIZE}).`, { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE });
const cursor = query('cursor', 'The `next` of the previous page, unchanged (a keyset cursor: pages stay stable while rows are added).');
const serial = path('serial', 'The certificate serial in hex, colons allowed, any case (as `certmint certs show` takes it).', { type: 'string', pattern: '^[0-9A-Fa-f:]+$' });

/** GET /certificates: the query keys are certificate-views.ts's, so the two cannot drift apart. */
const CERTIFICATE_PARAMETERS: Record<(typeof CERTIFICATE_QUERY_KEYS)[number], Json> = {
  expiringWithin: query('expiringWithin', 'Valid certificates expiring within this duration (`7d`, `12h`).'),
  expired: flag('expired', 'Only expired certificates.'),
  revoked: flag('revoked', 'Only revoked certificates.'),
  overdue: flag('overdue', 'Valid, not superseded, past their renewal-due time.'),
  unrenewedExpiringWithin: query('unrenewedExpiringWithin', 'Overdue certificates expiring within this duration.'),
  identifier: query('identifier', 'An exact name, or `*.suffix` for every name under it.'),
  account: query('account', 'An account id.'),
  profile: query('profile', 'A profile name (`default` for certificates whose order named none).'),
  limit,
  cursor,
  order: query('order', '`asc` (default): soonest expiry first; `desc`: latest expiry first. A cursor continues only in the order it was read in.', { type: 'string', enum: ['asc', 'desc'] }),
};

const readOp = (summary: string, ok: Json, extra: Json = {}): Json => ({ summary, ...extra, responses: { '200': ok, ...REFUSALS } });
const actionOp = (summary: string, ok: Json, extra: Json = {}, okStatus = '200'): Json => ({
  summary,
  description: 'Operator role. Audited with the actor `admin:<name>`, through the same use case as the CLI.',
  ...extra,
  responses: { [okStatus]: ok, ...REFUSALS, ...FORBIDDEN, ...((extra['x-responses'] as Json | undefined) ?? {}) },
});
const body = (schema: Json, required = false): Json => ({ required, content: { 'application/json': { schema } } });
const closed = (properties: Json): Json => ({ type: 'object', properties, additionalProperties: false });
const pem = (type: string, description: string): Json => ({ description, content: { [type]: { schema: { type: 'string' } } } });

const paths: Record<string, Json> = {
  '/openapi.json': {
    get: { summary: 'This document.', security: [], responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 document of the admin API (no authentication: it holds no data).') } },
  },
  '/certificates': {
    get: readOp('The inventory: the filters of `certmint certs list`, soonest expiry first, keyset-paginated.', json(ref('CertificateList'), 'One page.'), {
      parameters: Object.values(CERTIFICATE_PARAMETERS),
    }),
  },
  '/certificates/{serial}': {
    parameters: [serial],
    get: { ...readOp('One certificate with its lineage, audit trail, PEM and chain.', json(ref('CertificateDetail'), 'The certificate.')), responses: { '200': json(ref('CertificateDetail'), 'The certificate.'), ...REFUSALS, ...NOT_FOUND('certificate') } },
  },
  '/certificates/{serial}/pem': {
    parameters: [serial],
    get: { summary: 'The certificate alone, PEM (a download: Content-Disposition attachment).', responses: { '200': pem('application/x-pem-file', 'The leaf certificate.'), ...REFUSALS, ...NOT_FOUND('certificate') } },
  },
  '/certificates/{serial}/chain': {
    parameters: [serial],
    get: { summary: 'The certificate and its chain, PEM, as the ACME certificate URL served it.', responses: { '200': pem('application/pem-certificate-chain', 'Leaf, then the issuers.'), ...REFUSALS, ...NOT_FOUND('certificate') } },
  },
  '/certificates/{serial}/revoke': {
    parameters: [serial],
    post: actionOp('Revoke (`certmint revoke --serial`); the next CRL lists it.', json(ref('CertificateDetail'), 'The revoked certificate.'), {
      requestBody: body(closed({ reason: { oneOf: [{ type: 'string', enum: Object.keys(REVOCATION_REASONS) }, { type: 'integer', enum: Object.values(REVOCATION_REASONS) }], description: 'Default: unspecified.' } })),
      'x-responses': NOT_FOUND('certificate'),
    }),
  },
  '/certificates/{serial}/renew-early': {
    parameters: [serial],
    post: actionOp('Ask its ACME client to renew now (`certmint certs renew-early`): ARI moves the renewal window.', json(ref('CertificateDetail'), 'The certificate.'), {
      requestBody: body(closed({ explanationUrl: { type: 'string', format: 'uri', description: 'Shown to the client in its renewal information.' } })),
      'x-responses': NOT_FOUND('certificate'),
    }),
  },
  '/accounts': {
    get: readOp('ACME accounts, oldest first (`certmint accounts list`).', json(ref('AccountList'), 'One page.'), { parameters: [limit, cursor] }),
  },
  '/accounts/{id}': {
    parameters: [path('id', 'The account id, or the account URL a client logged.')],
    get: { summary: 'One account with its audit trail.', responses: { '200': json(ref('AccountDetail'), 'The account.'), ...REFUSALS, ...NOT_FOUND('account') } },
  },
  '/accounts/{id}/deactivate': {
    parameters: [path('id', 'The account id, or the account URL a client logged.')],
    post: actionOp('Deactivate an account (`certmint accounts deactivate`).', json(ref('AccountDetail'), 'The deactivated account.'), {
      'x-responses': { ...NOT_FOUND('account'), '409': problem('Deactivated already; nothing was changed.') },
    }),
  },
  '/eab-keys': {
    get: readOp('External account binding keys, never their HMAC keys (`certmint eab list`).', json(ref('EabKeyList'), 'Every key.')),
    post: actionOp('Create an external account binding key (`certmint eab create`).', json(ref('EabKeyCreated'), 'The key, with its HMAC key: shown this once.'), {
      requestBody: body(
        {
          ...closed({
            label: { type: 'string' },
            policy: { type: 'string', description: 'A policy from the config.' },
            reusable: { type: 'boolean', description: 'Default false: one account binds it.' },
            expires: { type: 'string', description: 'A duration (`30d`); default: never.' },
          }),
          required: ['label'],
        },
        true,
      ),
    }, '201'),
  },
  '/eab-keys/{kid}/revoke': {
    parameters: [path('kid', 'The key id.')],
    post: actionOp('Revoke an external account binding key (`certmint eab revoke`).', json(ref('EabKey'), 'The revoked key.'), {
      'x-responses': { ...NOT_FOUND('key'), '409': problem('Revoked already.') },
    }),
  },
  '/audit': {
    get: readOp('The audit log, oldest first (`certmint audit`).', json(ref('AuditList'), 'One page.'), {
      parameters: [
        query('since', 'An ISO 8601 date or time, or a duration back from now (`24h`).'),
        query('until', 'As since.'),
        query('action', 'One action (`revoke`, `issue`, `eab-create`, …).'),
        query('subject', 'One subject (a serial, `account:<id>`, …).'),
        limit,
        cursor,
      ],
    }),
  },
  '/ca': {
    get: readOp('Roots, intermediate generations, subordinates, name constraints and CRLs (`certmint ca status`).', json(ref('Ca'), 'The CA.')),
  },
  '/notifications': {
    get: readOp('Webhook deliveries, newest event first (`certmint notifications list`).', json(ref('DeliveryList'), 'Deliveries.'), {
      parameters: [query('failed', 'Only those that gave up.', { type: 'string', enum: ['true', 'false'] }), query('limit', 'Default 100.', { type: 'integer', minimum: 1, maximum: 1000 })],
    }),
  },
  '/notifications/{delivery}/retry': {
    parameters: [path('delivery', 'A failed delivery\'s id.')],
    post: actionOp('Try a failed delivery again (`certmint notifications retry`).', json(ref('Retried'), 'How many were queued again.'), { 'x-responses': NOT_FOUND('failed delivery') }),
  },
  '/summary': {
    get: readOp('The overview\'s figures and chart series, computed at most once a minute.', json(ref('Summary'), 'The figures.')),
  },
};

/** Drops the private `x-responses` helper member (merged into responses above). */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'x-responses').map(([k, v]) => [k, clean(v)]));
}

/** The document; `server` is the API's base URL path (`/api/v1`, under the listener's base path). */
export function openApiDocument(server: string): Json {
  return clean({
    openapi: '3.1.0',
    info: {
      title: 'certmint admin API',
      version: '1',
      description: 'The JSON API behind certmint\'s console (docs/console-and-admin-api.md). Actions go through the same use cases as the CLI and are audited as `admin:<name>`.',
    },
    servers: [{ url: server }],
    security: [{ bearerAuth: [] }, { cookieAuth: [], csrfToken: [] }, { mutualTLS: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An admin token (`certmint admin token create --role viewer|operator`); needs no CSRF token.' },
        cookieAuth: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The console\'s session (POST /console/login); a request that changes something also needs the session\'s CSRF token.' },
        mutualTLS: { type: 'mutualTLS', description: 'An admin client certificate from the admin issuer (`certmint admin cert create`), on the admin listener with `admin.clientCertificates`.' },
        csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'The console session\'s CSRF token, with cookieAuth on anything but GET and HEAD.' },
      },
      responses: { Problem: { description: 'A problem document.', content: { 'application/problem+json': { schema: ref('Problem') } } } },
      schemas: SCHEMAS,
    },
  }) as Json;
}
