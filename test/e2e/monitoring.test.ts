import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import acme from 'acme-client';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { parsePrometheusText, promqlMetricNames as metricNames, type Scrape } from '../support/prometheus-text.js';

const MONITORING = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../config/monitoring');
const DAY_S = 86_400;

interface GrafanaPanel {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
}

// `certmint serve` as a user runs it, driven by acme-client: what /metrics says and what the
// logs say about it, and the shipped dashboard and alert rules checked against that /metrics.
describe('monitoring a running certmint', () => {
  let certmint: CertmintProcess;
  let responder: Http01Responder;
  let client: acme.Client;
  let issued: { serial: string; pem: string };
  let metrics: Scrape;

  function get(url: string): Promise<{ status: number; type: string; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { ca: certmint.rootPem, agent: false, timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
  }

  /** Every JSON log line the server wrote so far. */
  function logLines(): Record<string, unknown>[] {
    return certmint
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return []; // the first line of the kept tail may be cut
        }
      });
  }

  beforeAll(async () => {
    certmint = await startCertmint({ config: { policies: { default: { deny: ['*.forbidden.test'] } } } });
    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    acme.axios.defaults.httpsAgent = new Agent({ ca: certmint.rootPem });
    client = new acme.Client({ directoryUrl: certmint.directoryUrl, accountKey: await acme.crypto.createPrivateKey() });
    const names = ['web.monitoring.test', 'api.monitoring.test'];
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const pem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => responder.set(challenge.token, keyAuthorization),
      challengeRemoveFn: async () => {},
    });
    issued = { serial: new X509Certificate(pem).serialNumber.toLowerCase(), pem };
    await expect(client.createOrder({ identifiers: [{ type: 'dns', value: 'x.forbidden.test' }] })).rejects.toThrow(/forbidden\.test/);
    await client.revokeCertificate(pem, { reason: 4 });
    // A subordinate CA, for certmint_subordinate_not_after_seconds (read by an alert rule).
    const subordinate = await certmint.cli(['ca', 'issue-istio-ca', '--trust-domain', 'monitoring.test', '--out', `${certmint.tempDir}/istio`]);
    expect(subordinate.code).toBe(0);
    const res = await get(`${certmint.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    metrics = parsePrometheusText(res.body);
  }, 120_000);
  afterAll(async () => {
    await responder?.stop();
    await certmint?.stop();
  });

  it('exports what happened: one issuance, one refusal, one revocation, and the CA and CRL state', () => {
    expect(metrics.value('certmint_certificates_issued_total', { profile: 'default' })).toBe(1);
    expect(metrics.value('certmint_issuance_failures_total', { reason: 'rejectedIdentifier' })).toBe(1);
    expect(metrics.value('certmint_validation_duration_seconds_count', { challenge_type: 'http-01', outcome: 'valid' })).toBe(2);
    expect(metrics.value('certmint_certificates_revoked')).toBe(1);
    // The server's own TLS certificate is in the ledger too (90 days by default): not expiring soon.
    expect(metrics.value('certmint_certificates_expiring', { within: '7d' })).toBe(0);
    expect(metrics.value('certmint_certificates_renewal_overdue', { profile: 'default' })).toBe(0);
    expect(metrics.value('certmint_certificates_expiring_unrenewed', { within: '1d' })).toBe(0);
    expect(metrics.value('certmint_http_request_duration_seconds_count', { route: '/acme/revoke-cert', method: 'POST', status_code: '200' })).toBe(1);
    const rootDays = metrics.value('certmint_ca_certificate_expires_in_seconds', { cert: 'root', generation: '1' }) / DAY_S;
    const intermediateDays = metrics.value('certmint_ca_certificate_expires_in_seconds', { cert: 'intermediate', generation: '1' }) / DAY_S;
    expect(intermediateDays).toBeGreaterThan(30);
    expect(rootDays).toBeGreaterThan(intermediateDays);
    expect(metrics.value('certmint_crl_age_seconds', { issuer: 'intermediate' })).toBeGreaterThanOrEqual(0);
    expect(metrics.value('certmint_crl_age_seconds', { issuer: 'intermediate' })).toBeLessThan(120);
    expect(metrics.value('certmint_crl_next_update_in_seconds', { issuer: 'intermediate' })).toBeGreaterThan(0);
    expect(metrics.value('certmint_ledger_size_bytes')).toBeGreaterThan(4096);
    expect(metrics.value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('logs the issuance and the revocation with request id, account and order, and no key material', async () => {
    const lines = logLines();
    const issuedLine = lines.find((l) => l.msg === 'certificate issued');
    expect(issuedLine).toMatchObject({
      level: 30,
      reqId: expect.any(String),
      account: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      order: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
      serial: issued.serial,
      profile: 'default',
      names: 2,
    });
    const shown = await certmint.showCertificate(issued.serial);
    expect(issuedLine!.order).toBe(shown.order);
    expect(issuedLine!.account).toBe(shown.account);
    const revokedLine = lines.find((l) => l.msg === 'certificate revoked');
    expect(revokedLine).toMatchObject({
      reqId: expect.any(String),
      account: issuedLine!.account,
      serial: issued.serial,
      reason: 'superseded',
      by: 'account',
    });
    expect(revokedLine!.reqId).not.toBe(issuedLine!.reqId);
    const output = certmint.output();
    expect(output).not.toMatch(/PRIVATE KEY|"csr"|"jwk"|"d":"/);
  });

  it('ships a Grafana dashboard whose every query reads metrics this certmint exports', () => {
    const dashboard = JSON.parse(readFileSync(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
      uid: string;
      schemaVersion: number;
      panels: GrafanaPanel[];
      templating: { list: { query?: unknown }[] };
    };
    expect(dashboard.uid).toBe('certmint-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of [/issuance rate/i, /failures by reason/i, /validation p99/i, /HTTP p99/i, /expiring/i, /CRL age/i, /CA certificate days left/i, /renewal overdue/i, /expiring unrenewed/i]) {
      expect(titles.some((t) => wanted.test(t)), String(wanted)).toBe(true);
    }
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    for (const v of dashboard.templating.list) {
      if (v.query && typeof v.query === 'object') exprs.push(String((v.query as { query: string }).query).replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
    }
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      const names = metricNames(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        // `up` is written by Prometheus itself for every scrape target.
        if (name !== 'up') expect(metrics.sampleNames.has(name), `${name} in ${expr}`).toBe(true);
      }
    }
    // Panels sit on the 24-column grid without overlapping.
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('ships Prometheus alert rules whose every expression reads metrics this certmint exports', () => {
    const rules = parseYaml(readFileSync(path.join(MONITORING, 'prometheus-alerts.yml'), 'utf8')) as {
      groups: { name: string; rules: { alert: string; expr: string; for?: string; labels: { severity: string } }[] }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'CertmintDown', 'CertmintCaCertificateExpiring', 'CertmintCrlStale', 'CertmintIssuanceFailuresRising',
        'CertmintRenewalOverdue', 'CertmintCertificateExpiringUnrenewed', 'CertmintSubordinateCaExpiring',
      ]),
    );
    for (const rule of all) {
      expect(['critical', 'warning']).toContain(rule.labels.severity);
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) {
        if (name !== 'up') expect(metrics.sampleNames.has(name), `${name} in ${rule.alert}`).toBe(true);
      }
    }
    expect(metricNames('sum by (le) (rate(certmint_x_bucket{a="b"}[5m] offset 1d)) > 2 * 86400 and on (job) up')).toEqual(['certmint_x_bucket', 'up']);
  });

  it('counts the connections it accepts: one per new connection, none for a request on a kept one', async () => {
    const accepted = async () => parsePrometheusText((await get(`${certmint.baseUrl}/metrics`)).body).value('certmint_http_connections_total');
    const start = await accepted();
    // Each get() opens a connection of its own (agent: false), the scrape too.
    for (let i = 0; i < 3; i++) expect((await get(`${certmint.baseUrl}/health`)).status).toBe(200);
    const afterNew = await accepted();
    expect(afterNew - start).toBe(3 + 1);
    const kept = new Agent({ ca: certmint.rootPem, keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          request(`${certmint.baseUrl}/health`, { agent: kept }, (res) => {
            res.resume();
            res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
          }).once('error', reject).end();
        });
      }
    } finally {
      kept.destroy();
    }
    expect((await accepted()) - afterNew).toBe(1 + 1);
  });

  it('answers /health and /ready next to /metrics', async () => {
    expect((await get(`${certmint.baseUrl}/health`)).body).toBe('{"status":"ok"}');
    expect((await get(`${certmint.baseUrl}/ready`)).body).toBe('{"status":"ready"}');
  });
});
