import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemErrorHandler, sendProblem } from '../acme/problem-handler.js';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { resolveRef, schemaErrors, type Schema } from '../../test/support/json-schema-check.js';
import { registerSecrets } from '../../test/support/suite-log.js';
import { createAdminToken } from '../ra/admin-tokens.js';
import { ADMIN_API_PREFIX, adminApi } from './admin-api.js';

// The admin API's OpenAPI document (src/admin/openapi.ts) against the API itself: the routes the
// plugin registers, and real answers of a real app (real ledger, CA and ACME issuance) checked
// against the documented schemas, so neither can change without the other.
const DAY = 86_400_000;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

let t: TestAcmeApp;
let doc: Schema;
const tokens = { viewer: '', operator: '' };
let serial = '';

beforeAll(async () => {
  t = await startTestAcmeApp({ admin: true });
  for (const [name, role] of [['vera', 'viewer'], ['alice', 'operator']] as const) {
    const made = await createAdminToken(t.ra.deps, { name, role }, 'operator:test');
    registerSecrets([made.token]);
    tokens[role] = made.token;
  }
  const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register({ termsOfServiceAgreed: true });
  for (const name of ['a.openapi.test', 'b.openapi.test']) {
    serial = (await issueCertificate(t, client, [name], { notAfter: new Date(t.clock.now().getTime() + 30 * DAY) })).serial;
  }
  const res = await t.app.inject({ method: 'GET', url: `${ADMIN_API_PREFIX}/openapi.json` });
  doc = res.json<Schema>();
}, 120_000);
afterAll(async () => {
  await t?.close();
}, 60_000);

const paths = (): Record<string, Record<string, Schema>> => doc.paths as Record<string, Record<string, Schema>>;

function documentedRoutes(): string[] {
  return Object.entries(paths()).flatMap(([p, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${p}`));
}

/** The operation a request is answered by: its path template matched segment by segment. */
function operationOf(method: string, url: string): { template: string; operation: Schema } {
  const path = url.split('?')[0]!;
  for (const [template, item] of Object.entries(paths())) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = item[method.toLowerCase()];
    if (pattern.test(path) && operation) return { template, operation };
  }
  throw new Error(`${method} ${path} is not documented`);
}

/** Sends a request and checks its status and body against the documented response. */
async function checked(method: 'GET' | 'POST', url: string, role?: 'viewer' | 'operator', body?: unknown) {
  const res = await t.app.inject({
    method,
    url: `${ADMIN_API_PREFIX}${url}`,
    headers: { ...(role ? { authorization: `Bearer ${tokens[role]}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  const { template, operation } = operationOf(method, url);
  let response = (operation.responses as Record<string, Schema>)[String(res.statusCode)];
  expect(response, `${method} ${template} answered ${res.statusCode}, which is not documented: ${res.body}`).toBeDefined();
  if (typeof response!.$ref === 'string') response = resolveRef(doc, response!.$ref);
  const type = String(res.headers['content-type']).split(';')[0]!;
  const media = (response!.content as Record<string, { schema: Schema }>)[type];
  expect(media, `${method} ${template} ${res.statusCode} answered ${type}, not what is documented`).toBeDefined();
  if (type.endsWith('json')) expect(schemaErrors(doc, media!.schema, res.json())).toEqual([]);
  return res;
}

describe('the OpenAPI document of the admin API', () => {
  it('is served without authentication as OpenAPI 3.1, with the bearer, console-session and client-certificate schemes', async () => {
    const res = await t.app.inject({ method: 'GET', url: `${ADMIN_API_PREFIX}/openapi.json` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(doc).toMatchObject({ openapi: '3.1.0', servers: [{ url: ADMIN_API_PREFIX }] });
    const schemes = (doc.components as Schema).securitySchemes as Record<string, Schema>;
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.cookieAuth).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'certmint_console' });
    expect(schemes.csrfToken).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-CSRF-Token' });
    expect(schemes.mutualTLS).toMatchObject({ type: 'mutualTLS' });
    // Everything else still needs a token.
    expect((await t.app.inject({ method: 'GET', url: `${ADMIN_API_PREFIX}/summary` })).statusCode).toBe(401);
  });

  it('documents every route the admin API plugin registers, and no other', async () => {
    const app = Fastify({ logger: false });
    const registered: string[] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        // HEAD comes with every GET.
        if (method !== 'HEAD') registered.push(`${method} ${route.url.slice(ADMIN_API_PREFIX.length).replace(/:([A-Za-z]+)/g, '{$1}')}`);
      }
    });
    await app.register(adminApi, { prefix: ADMIN_API_PREFIX, ra: t.ra, ledger: t.ledger, clock: t.clock, ca: t.ca, problems: { send: sendProblem, errorHandler: problemErrorHandler } });
    await app.ready();
    await app.close();
    const documented = documentedRoutes();
    expect(registered.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !registered.includes(r))).toEqual([]);
    expect(registered.length).toBeGreaterThanOrEqual(15);
  });

  it('resolves every reference, declares every path parameter, and answers refusals as problem documents', () => {
    const text = JSON.stringify(doc);
    for (const [, ref] of text.matchAll(/"\$ref":"([^"]+)"/g)) expect(() => resolveRef(doc, ref!)).not.toThrow();
    for (const [template, item] of Object.entries(paths())) {
      const declared = [...((item.parameters ?? []) as Schema[]), ...METHODS.flatMap((m) => ((item[m]?.parameters ?? []) as Schema[]))].filter((p) => p.in === 'path').map((p) => p.name);
      expect(declared.sort(), template).toEqual([...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort());
      for (const m of METHODS.filter((m) => item[m])) {
        const responses = item[m]!.responses as Record<string, Schema>;
        expect(Object.keys(responses).some((s) => /^2\d\d$/.test(s)), `${m} ${template}`).toBe(true);
        if (template !== '/openapi.json') expect(responses['401'], `${m} ${template}`).toEqual(expect.objectContaining({ $ref: '#/components/responses/Problem' }));
      }
    }
  });
});

describe('real answers match the documented schemas', () => {
  it('certificates: the list, its next page, one certificate, its revocation', async () => {
    const page = (await checked('GET', '/certificates?limit=1', 'viewer')).json<{ next: string; certificates: Schema[] }>();
    // The check is not vacuous: a member the document does not name, or a wrong type, is reported.
    const summary = { $ref: '#/components/schemas/CertificateSummary' };
    expect(schemaErrors(doc, summary, { ...page.certificates[0], colour: 'red' })).toEqual(['$: member colour is not documented']);
    expect(schemaErrors(doc, summary, { ...page.certificates[0], replaces: 7 })).toEqual(['$.replaces: integer, not string or null']);
    await checked('GET', `/certificates?limit=1&cursor=${page.next}`, 'viewer');
    await checked('GET', `/certificates/${serial}`, 'viewer');
    await checked('POST', `/certificates/${serial}/revoke`, 'operator', { reason: 'superseded' });
    // A revoked certificate carries when and why.
    const revoked = (await checked('GET', '/certificates?revoked=true', 'viewer')).json<{ certificates: Schema[] }>();
    expect(revoked.certificates[0]).toMatchObject({ serial, revocationReason: 'superseded' });
  });

  it('accounts, EAB keys, the audit log, the CA, notifications and the summary', async () => {
    const accounts = (await checked('GET', '/accounts', 'viewer')).json<{ accounts: { id: string }[] }>();
    await checked('GET', `/accounts/${accounts.accounts[0]!.id}`, 'viewer');
    const created = (await checked('POST', '/eab-keys', 'operator', { label: 'team-a', expires: '30d' })).json<{ kid: string; hmacKey: string }>();
    registerSecrets([created.hmacKey]);
    await checked('GET', '/eab-keys', 'viewer');
    await checked('POST', `/eab-keys/${created.kid}/revoke`, 'operator');
    await checked('GET', '/audit?limit=2', 'viewer');
    await checked('GET', '/ca', 'viewer');
    await checked('GET', '/notifications', 'viewer');
    await checked('GET', '/summary', 'viewer');
    await checked('POST', `/accounts/${accounts.accounts[0]!.id}/deactivate`, 'operator');
  });

  it('refusals: 400, 401, 403, 404 and 409 are the documented problem documents', async () => {
    await checked('GET', '/certificates?colour=red', 'viewer');
    await checked('GET', '/certificates');
    await checked('POST', `/certificates/${serial}/revoke`, 'viewer', {});
    await checked('GET', '/certificates/00ff', 'viewer');
    const accounts = (await checked('GET', '/accounts', 'viewer')).json<{ accounts: { id: string }[] }>();
    expect((await checked('POST', `/accounts/${accounts.accounts[0]!.id}/deactivate`, 'operator')).statusCode).toBe(409);
  });
});
