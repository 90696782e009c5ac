import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { makeCsr } from '../../test/support/csr.js';
import { validateNames } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { parsePrometheusText, type Scrape } from '../../test/support/prometheus-text.js';

const ERR = 'urn:ietf:params:acme:error:';
const DAY = 86_400_000;
const DAY_S = 86_400;
const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64url');

// GET /metrics of the real app (real ledger, CA, CRL publisher, validation against a real
// http-01 responder) after issuing, refusing and revoking through real JWS requests.
describe('GET /metrics', () => {
  let t: TestAcmeApp;
  let client: InjectAcmeClient;
  const serials: Record<string, string> = {};

  async function scrape(): Promise<Scrape> {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(res.body);
  }

  async function issue(name: string, profile?: string): Promise<string> {
    const order = await validateNames(t, client, [name], profile ? { profile } : {});
    const fin = await client.post(order.finalize, { csr: b64((await makeCsr([name])).der) });
    expect(fin.statusCode).toBe(200);
    return String(fin.json().certificate).split('/').pop()!;
  }

  beforeAll(async () => {
    t = await startTestAcmeApp({
      // Counts read on every scrape, so the test sees each change at once.
      metrics: { countsCacheMs: 0 },
      configYaml: 'policies:\n  default:\n    deny: ["*.forbidden.test"]\n',
    });
    client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    expect((await client.register()).statusCode).toBe(201);
  });
  afterAll(async () => t?.close());

  it('starts with every profile at zero issuances, the CA certificates and the CRLs', async () => {
    const m = await scrape();
    for (const profile of ['default', 'shortlived', 'mtls']) expect(m.value('certmint_certificates_issued_total', { profile })).toBe(0);
    expect(m.types.get('certmint_certificates_issued_total')).toBe('counter');
    expect(m.types.get('certmint_http_request_duration_seconds')).toBe('histogram');
    expect(m.value('certmint_ca_certificate_expires_in_seconds', { cert: 'root', generation: '1' })).toBeCloseTo(3650 * DAY_S, -3);
    expect(m.value('certmint_ca_certificate_expires_in_seconds', { cert: 'intermediate', generation: '1' })).toBeCloseTo(1825 * DAY_S, -3);
    for (const issuer of ['intermediate', 'root']) {
      expect(m.value('certmint_crl_age_seconds', { issuer })).toBeGreaterThanOrEqual(0);
      expect(m.value('certmint_crl_next_update_in_seconds', { issuer })).toBeGreaterThan(0);
    }
    for (const within of ['1d', '7d', '30d']) expect(m.value('certmint_certificates_expiring', { within })).toBe(0);
    expect(m.value('certmint_certificates_revoked')).toBe(0);
    expect(m.value('certmint_ledger_size_bytes')).toBeGreaterThan(0);
    // Process metrics of the server's own registry.
    expect(m.sampleNames).toContain('process_cpu_seconds_total');
    expect(m.sampleNames).toContain('nodejs_eventloop_lag_seconds');
    // What is running: the version of package.json, as `certmint --version` prints it.
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(m.value('certmint_build_info', { version })).toBe(1);
    expect(m.types.get('certmint_build_info')).toBe('gauge');
  });

  it('counts issuances by profile, refusals by problem type, validations and requests by route', async () => {
    serials.a = await issue('a.metrics.test');
    serials.b = await issue('b.metrics.test');
    serials.short = await issue('short.metrics.test', 'shortlived');
    serials.mtls = await issue('mtls.metrics.test', 'mtls');

    // Refused by policy at newOrder, and a CSR that does not match its order at finalize.
    const refused = await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'x.forbidden.test' }] });
    expect(refused.json().type).toBe(`${ERR}rejectedIdentifier`);
    const order = await validateNames(t, client, ['csr.metrics.test']);
    const badCsr = await client.post(order.finalize, { csr: b64((await makeCsr(['other.metrics.test'])).der) });
    expect(badCsr.json().type).toBe(`${ERR}badCSR`);
    expect((await t.app.inject({ method: 'GET', url: '/no/such/thing/42' })).statusCode).toBe(404);

    const m = await scrape();
    expect(m.value('certmint_certificates_issued_total', { profile: 'default' })).toBe(2);
    expect(m.value('certmint_certificates_issued_total', { profile: 'shortlived' })).toBe(1);
    expect(m.value('certmint_certificates_issued_total', { profile: 'mtls' })).toBe(1);
    expect(m.value('certmint_issuance_failures_total', { reason: 'rejectedIdentifier' })).toBe(1);
    expect(m.value('certmint_issuance_failures_total', { reason: 'badCSR' })).toBe(1);
    expect(m.find('certmint_issuance_failures_total')).toHaveLength(2);
    // Five orders, one name each, each validated once over http-01.
    expect(m.value('certmint_validation_duration_seconds_count', { challenge_type: 'http-01', outcome: 'valid' })).toBe(5);
    expect(m.value('certmint_validation_duration_seconds_count', { challenge_type: 'http-01', outcome: 'invalid' })).toBe(0);
    expect(m.value('certmint_validation_duration_seconds_sum', { challenge_type: 'http-01', outcome: 'valid' })).toBeGreaterThan(0);

    const finalize = { route: '/acme/order/:id/finalize', method: 'POST' };
    expect(m.value('certmint_http_request_duration_seconds_count', { ...finalize, status_code: '200' })).toBe(4);
    expect(m.value('certmint_http_request_duration_seconds_count', { ...finalize, status_code: '400' })).toBe(1);
    expect(m.value('certmint_http_request_duration_seconds_count', { route: '/acme/new-order', status_code: '400' })).toBe(1);
    expect(m.value('certmint_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_code: '404' })).toBe(1);
    // Route patterns only: no order, authorization or challenge id ever becomes a label value.
    const routes = new Set(m.find('certmint_http_request_duration_seconds_count').map((s) => s.labels.route));
    for (const route of routes) expect(route).toMatch(/^(unmatched|\/[a-z0-9/:.-]*)$/);
    expect([...routes].filter((r) => r!.includes(order.finalize.split('/').at(-2)))).toEqual([]);
  });

  it('reflects expiring and revoked certificates, CRL and CA ages as the clock moves', async () => {
    const crlBefore = t.crl.current('intermediate')!.crlNumber;
    const revoked = await client.post(`${t.baseUrl}/acme/revoke-cert`, {
      certificate: b64(Buffer.from((await t.ledger.getCertificate(serials.a!))!.der)),
    });
    expect(revoked.statusCode).toBe(200);
    // The revocation republishes the CRL in the background; let it finish (and not race close()).
    await vi.waitFor(() => expect(t.crl.current('intermediate')!.crlNumber).toBeGreaterThan(crlBefore));
    let m = await scrape();
    // shortlived: 24 hours; mtls: 7 days; default: 45 days (one of them now revoked).
    expect(m.value('certmint_certificates_expiring', { within: '1d' })).toBe(1);
    expect(m.value('certmint_certificates_expiring', { within: '7d' })).toBe(2);
    expect(m.value('certmint_certificates_expiring', { within: '30d' })).toBe(2);
    expect(m.value('certmint_certificates_revoked')).toBe(1);

    const rootLeft = m.value('certmint_ca_certificate_expires_in_seconds', { cert: 'root', generation: '1' });
    t.clock.advance(20 * DAY);
    m = await scrape();
    expect(m.value('certmint_certificates_expiring', { within: '1d' })).toBe(0);
    expect(m.value('certmint_certificates_expiring', { within: '7d' })).toBe(0);
    // b (45 days from issuance) is now 25 days from expiry; a is revoked.
    expect(m.value('certmint_certificates_expiring', { within: '30d' })).toBe(1);
    expect(m.value('certmint_certificates_revoked')).toBe(1);
    expect(rootLeft - m.value('certmint_ca_certificate_expires_in_seconds', { cert: 'root', generation: '1' })).toBeCloseTo(20 * DAY_S, -1);
    // Nobody republished in those 20 days: the CRL is old and past its nextUpdate (what the alert fires on).
    expect(m.value('certmint_crl_age_seconds', { issuer: 'intermediate' })).toBeGreaterThanOrEqual(20 * DAY_S);
    expect(m.value('certmint_crl_next_update_in_seconds', { issuer: 'intermediate' })).toBeLessThan(0);

    // Nothing overdue yet: the expired ones do not count, b's ARI window ends at 32.25 days.
    expect(m.value('certmint_certificates_renewal_overdue', { profile: 'default' })).toBe(0);
    for (const within of ['1d', '7d', '30d']) expect(m.value('certmint_certificates_expiring_unrenewed', { within })).toBe(0);
    // Day 33: b was not renewed; it expires in 12 days.
    t.clock.advance(13 * DAY);
    m = await scrape();
    expect(m.value('certmint_certificates_renewal_overdue', { profile: 'default' })).toBe(1);
    expect(m.value('certmint_certificates_expiring_unrenewed', { within: '7d' })).toBe(0);
    expect(m.value('certmint_certificates_expiring_unrenewed', { within: '30d' })).toBe(1);

    t.clock.advance(17 * DAY);
    m = await scrape();
    expect(m.value('certmint_certificates_renewal_overdue', { profile: 'default' })).toBe(0);
    expect(m.value('certmint_certificates_revoked')).toBe(0);
    expect(m.value('certmint_certificates_expiring', { within: '30d' })).toBe(0);
  });
});
