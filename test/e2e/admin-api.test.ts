// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { request } from 'node:https';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { freePort } from '../support/ports.js';
import { serveOnTakenPort } from '../support/taken-port.js';
import { registerSecrets } from '../support/suite-log.js';

// Issue 25, the admin API: a real `certmint serve` with admin.enabled and admin.listen, tokens made
// by the real CLI. The API answers only on its own HTTPS listener (the server's certificate), and
// an operator's revocation there reaches the ledger's audit log and the CRL served for ACME.
let certmint: CertmintProcess;
let responder: Http01Responder;
let wire: AcmeWire;
let account: WireAccount;
let adminUrl: string;
const tokens = { operator: '', viewer: '', expired: '' };

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly raw: Buffer;
}

/** An HTTPS request trusting only certmint's roots, as an operator's script would make it. */
function call(method: string, url: string, bearer?: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: certmint.rootPem,
        headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, type: String(res.headers['content-type'] ?? ''), headers: res.headers, body: raw.toString('utf8'), raw });
        });
      },
    );
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

async function createToken(name: string, role: string, env: Record<string, string> = {}, expires?: string): Promise<string> {
  const args = ['admin', 'token', 'create', '--name', name, '--role', role, '--json', ...(expires ? ['--expires', expires] : [])];
  const r = Object.keys(env).length > 0 ? await runCli(args, { CERTMINT_DATA_DIR: certmint.dataDir, ...env }) : await certmint.cli(args);
  expect(r.code, r.stderr).toBe(0);
  const token = JSON.parse(r.stdout).token as string;
  registerSecrets([token]);
  return token;
}

beforeAll(async () => {
  requireBuiltCli();
  const port = await freePort();
  adminUrl = `https://127.0.0.1:${port}/api/v1`;
  certmint = await startCertmint({ config: { admin: { enabled: true, listen: `127.0.0.1:${port}` }, crl: { minInterval: '200ms' } } });
  responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
  wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
  account = (await wire.newAccount()).account!;
  tokens.operator = await createToken('ops', 'operator');
  tokens.viewer = await createToken('audit', 'viewer');
  // Made "yesterday" (the CLI on a fake clock) with an hour to live: expired for the server.
  tokens.expired = await createToken('stale', 'viewer', { CERTMINT_FAKE_CLOCK: new Date(Date.now() - 86_400_000).toISOString() }, '1h');
}, 120_000);

afterAll(async () => {
  await responder?.stop();
  await certmint?.stop();
});

async function issue(name: string): Promise<string> {
  const order = await wire.readyOrder(account, [name], responder);
  const fin = await wire.finalize(account, order.finalize, [name]);
  expect(fin.status, fin.body).toBe(200);
  return String((JSON.parse(fin.body) as { certificate: string }).certificate).split('/').pop()!;
}

describe('the admin API on admin.listen (a real certmint serve)', () => {
  it('serves the API over HTTPS with the server certificate; the ACME listener answers 404 on /api/', async () => {
    const serial = await issue('listed.admin-api.test');
    const list = await call('GET', `${adminUrl}/certificates`, tokens.viewer);
    expect(list.status, list.body).toBe(200);
    expect(list.type).toMatch(/^application\/json/);
    expect(JSON.parse(list.body).certificates.map((c: { serial: string }) => c.serial)).toContain(serial);
    const onAcme = await call('GET', `${certmint.directUrl}/api/v1/certificates`, tokens.viewer);
    expect([onAcme.status, onAcme.type]).toEqual([404, 'application/problem+json']);
    const elsewhere = await call('GET', adminUrl.replace('/api/v1', '/directory'), tokens.viewer);
    expect(elsewhere.status).toBe(404);
  });

  it('refuses a missing, expired or viewer token with 401 / 403 problems and changes nothing', async () => {
    const serial = await issue('kept.admin-api.test');
    const auditBefore = (await certmint.showCertificate(serial)).audit;
    const missing = await call('POST', `${adminUrl}/certificates/${serial}/revoke`, undefined, { reason: 'keyCompromise' });
    expect([missing.status, JSON.parse(missing.body).type]).toEqual([401, 'urn:ietf:params:acme:error:unauthorized']);
    const expired = await call('GET', `${adminUrl}/certificates`, tokens.expired);
    expect([expired.status, JSON.parse(expired.body).detail]).toEqual([401, 'this admin token (stale) is expired']);
    const viewer = await call('POST', `${adminUrl}/certificates/${serial}/revoke`, tokens.viewer, { reason: 'keyCompromise' });
    expect(viewer.status).toBe(403);
    const after = await certmint.showCertificate(serial);
    expect([after.status, after.audit]).toEqual(['valid', auditBefore]);
  });

  it("an operator's revocation is audited as admin:<name> and lands on the CRL", async () => {
    const serial = await issue('revoked.admin-api.test');
    const res = await call('POST', `${adminUrl}/certificates/${serial}/revoke`, tokens.operator, { reason: 'keyCompromise' });
    expect(res.status, res.body).toBe(200);
    const shown = await certmint.showCertificate(serial);
    expect(shown.status).toBe('revoked');
    expect((shown.audit as { actor: string; action: string }[]).at(-1)).toMatchObject({ actor: 'admin:ops', action: 'revoke' });
    await vi.waitFor(
      async () => {
        const crl = await call('GET', `${certmint.directUrl}/crl`);
        expect(crl.status).toBe(200);
        const listed = new x509.X509Crl(new Uint8Array(crl.raw)).entries.map((e) => e.serialNumber.toLowerCase());
        expect(listed).toContain(serial);
      },
      { timeout: 10_000, interval: 100 },
    );
    // admin token list shows when each token was last used, never the token.
    const listed = await certmint.cli(['admin', 'token', 'list', '--json']);
    const ops = JSON.parse(listed.stdout).find((x: { name: string }) => x.name === 'ops');
    expect(ops.lastUsedAt).not.toBeNull();
    expect(listed.stdout).not.toContain('cm_admin_');
  });

  it('exits 1 with one line naming admin.listen when its port is taken', { timeout: 60_000 }, async () => {
    const { port, result: r } = await serveOnTakenPort((port) => ({ CERTMINT_ADMIN_ENABLED: 'true', CERTMINT_ADMIN_LISTEN: `127.0.0.1:${port}` }));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^certmint: admin\\.listen: listen EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
  });
});
